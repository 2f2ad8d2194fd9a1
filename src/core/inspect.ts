import type { Config } from "../config.js";
import { parseEnv } from "../store/envfile.js";
import { portOf } from "../store/profiles.js";
import { envFile } from "../paths.js";
import fs from "node:fs/promises";
import { UNIT_PATTERN, unitName, type UnitState } from "../systemd/types.js";
import type { Context } from "./context.js";
import { runningVsDisk, type RunningVsDisk } from "./pending-restart.js";

/** One profile as `list` and `status` show it. */
export interface ProfileStatus {
  name: string;
  unit: string;
  port: number | null;
  activeState: string;
  subState: string;
  pid: number | null;
  restarts: number;
  enabled: boolean;
  result: string;
  /** `exited 1`, `signal 9`, or null when the main process never ended. */
  lastExit: string | null;
}

/** A status with how the running process stands against its `.env` (`list`, `status`). */
export type ProfileStatusRunning = ProfileStatus & RunningVsDisk;

/** `inspectProfiles`, each running profile also compared with its `.env` (pending restart). */
export async function inspectRunning(ctx: Context, config: Config, names: string[]): Promise<ProfileStatusRunning[]> {
  const rows = await inspectProfiles(ctx, config, names);
  return Promise.all(rows.map(async (r) => ({ ...r, ...(await runningVsDisk(ctx, r.name, r.pid)) })));
}

function lastExit(s: UnitState): string | null {
  if (s.execMainCode === 1) return `exited ${s.execMainStatus}`;
  if (s.execMainCode === 2 || s.execMainCode === 3) return `signal ${s.execMainStatus}`;
  return null;
}

/**
 * The state of each named profile, from one ListUnitsByPatterns call; a profile whose unit is not in
 * memory is inactive, and only then is its unit file state asked separately.
 */
export async function inspectProfiles(ctx: Context, config: Config, names: string[]): Promise<ProfileStatus[]> {
  const sd = await ctx.systemd();
  const loaded = new Map((await sd.list([UNIT_PATTERN])).map((s) => [s.name, s]));
  return Promise.all(
    names.map(async (name) => {
      const unit = unitName(name);
      const text = await fs.readFile(envFile(ctx.paths, name), "utf8").catch(() => "");
      const port = portOf(parseEnv(text).entries, config.portVar);
      const s = loaded.get(unit);
      const fileState = s?.unitFileState || (await sd.unitFileState(unit));
      return {
        name,
        unit,
        port,
        activeState: s?.activeState ?? "inactive",
        subState: s?.subState ?? "dead",
        pid: s && s.mainPid > 0 ? s.mainPid : null,
        restarts: s?.nRestarts ?? 0,
        enabled: fileState === "enabled" || fileState === "enabled-runtime",
        result: s?.result ?? "success",
        lastExit: s ? lastExit(s) : null,
      };
    }),
  );
}

import type { Config } from "../config.js";
import { decodeBytes } from "../store/bytes.js";
import { parseEnv } from "../store/envfile.js";
import { readBytesOrNull } from "../store/generation-files.js";
import { portOf } from "../store/profiles.js";
import { envFile } from "../paths.js";
import { UNIT_PATTERN, unitName, type UnitState } from "../systemd/types.js";
import type { Context } from "./context.js";
import { isEnabledState, unitFileStatesNow } from "./enabled.js";
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
  /** `profiles disable` keeps it down: its unit file is disabled (read fresh) and it is not active. */
  disabled: boolean;
  result: string;
  /** `exited 1`, `signal 9`, or null when the main process never ended. */
  lastExit: string | null;
}

/** A status with how the running process stands against its `.env` (`list`, `status`). */
export type ProfileStatusRunning = ProfileStatus & RunningVsDisk;

/** `inspectProfiles`, each running profile also compared with its `.env` (pending restart). */
export async function inspectRunning(ctx: Context, config: Config, names: string[], patterns?: string[]): Promise<ProfileStatusRunning[]> {
  const rows = await inspectProfiles(ctx, config, names, { patterns });
  return Promise.all(rows.map(async (r) => ({ ...r, ...(await runningVsDisk(ctx, r.name, r.pid)) })));
}

function lastExit(s: UnitState): string | null {
  if (s.execMainCode === 1) return `exited ${s.execMainStatus}`;
  if (s.execMainCode === 2 || s.execMainCode === 3) return `signal ${s.execMainStatus}`;
  return null;
}

/**
 * The state of each named profile, from one ListUnitsByPatterns call (of every profile's unit, or of
 * `patterns`: `top` reads again only the units that changed); a profile whose unit is not in memory is
 * inactive. The unit file state is asked of each (a loaded unit's property may be stale), or reused
 * while the unit directories are unchanged; `fresh` asks each, for a caller that acts on it (a manifest's
 * plan enables or disables by it).
 */
export async function inspectProfiles(
  ctx: Context, config: Config, names: string[], opts: { patterns?: string[]; fresh?: boolean } = {},
): Promise<ProfileStatus[]> {
  const sd = await ctx.systemd();
  const [listed, fileStates] = await Promise.all([sd.list(opts.patterns ?? [UNIT_PATTERN]), unitFileStatesNow(sd, names, { fresh: opts.fresh })]);
  const loaded = new Map(listed.map((s) => [s.name, s]));
  return names.map((name) => {
    const unit = unitName(name);
    const bytes = readBytesOrNull(envFile(ctx.paths, name));
    const port = portOf(parseEnv(bytes === null ? "" : decodeBytes(bytes)).entries, config.portVar);
    const s = loaded.get(unit);
    const fileState = fileStates.get(name)!;
    const activeState = s?.activeState ?? "inactive";
    return {
      name,
      unit,
      port,
      activeState,
      subState: s?.subState ?? "dead",
      pid: s && s.mainPid > 0 ? s.mainPid : null,
      restarts: s?.nRestarts ?? 0,
      enabled: isEnabledState(fileState),
      disabled: fileState === "disabled" && (activeState === "inactive" || activeState === "failed"),
      result: s?.result ?? "success",
      lastExit: s ? lastExit(s) : null,
    };
  });
}

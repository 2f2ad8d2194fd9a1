/** What a unit's state means for a profile: running, stopped, failed, stuck at its start limit, ... */
import fs from "node:fs/promises";
import path from "node:path";
import type { Paths } from "../../paths.js";
import { readLimits, type Limits } from "../../store/limits.js";
import { getUnitKey } from "../../systemd/unit-file.js";
import { TEMPLATE_UNIT, type UnitState } from "../../systemd/types.js";

/** A unit's condition, as health and sweep report it. */
export type UnitCondition = "running" | "active" | "starting" | "restarting" | "stopping" | "stopped" | "failed" | "start-limit-hit" | "disabled";

/** The template's restart limits, which tell a crash loop that ended from an ordinary failure. */
export interface StartLimits {
  burst: number;
  /** Exit statuses after which the unit is not restarted (RestartPreventExitStatus=). */
  preventExitStatus: number[];
}

/** systemd's own default StartLimitBurst. */
export const DEFAULT_START_LIMITS: StartLimits = { burst: 5, preventExitStatus: [] };

/** The limits the installed template sets (systemd's defaults where it sets none, or cannot be read). */
export async function readStartLimits(paths: Paths): Promise<StartLimits> {
  const text = await fs.readFile(path.join(paths.unitDir, TEMPLATE_UNIT), "utf8").catch(() => "");
  const burst = Number(getUnitKey(text, "Unit", "StartLimitBurst").at(-1));
  const prevent = getUnitKey(text, "Service", "RestartPreventExitStatus")
    .flatMap((v) => v.split(/\s+/))
    .filter((w) => /^\d+$/.test(w))
    .map(Number);
  return { burst: Number.isInteger(burst) && burst > 0 ? burst : DEFAULT_START_LIMITS.burst, preventExitStatus: prevent };
}

/** `base` (the template's) with what `profiles limits NAME` set for this profile's crash-loop policy. */
export async function profileStartLimits(paths: Paths, name: string, base: StartLimits): Promise<StartLimits> {
  const own = await readLimits(paths, name).catch(() => ({}) as Limits);
  const burst = Number(own.StartLimitBurst);
  return {
    burst: Number.isInteger(burst) && burst > 0 ? burst : base.burst,
    preventExitStatus: own.RestartPreventExitStatus !== undefined ? own.RestartPreventExitStatus.split(/\s+/).map(Number) : base.preventExitStatus,
  };
}

/**
 * Classify a unit's state. A crash loop that hit the start limit shows `Result=start-limit-hit` on some
 * paths, but systemd 252 keeps `Result=exit-code` after the last automatic restart was refused; so a
 * failed unit that was restarted `burst` times and whose last exit would have been restarted again
 * counts as stuck at its limit too.
 */
export function unitCondition(s: UnitState | undefined, limits: StartLimits): UnitCondition {
  if (!s) return "stopped";
  switch (s.activeState) {
    case "active":
    case "reloading":
      return s.subState === "running" ? "running" : "active";
    case "activating":
      return s.subState === "auto-restart" ? "restarting" : "starting";
    case "deactivating":
      return "stopping";
    case "failed": {
      if (s.result === "start-limit-hit") return "start-limit-hit";
      const prevented = s.execMainCode === 1 && limits.preventExitStatus.includes(s.execMainStatus);
      return s.nRestarts >= limits.burst && !prevented ? "start-limit-hit" : "failed";
    }
    default:
      return "stopped";
  }
}

/** How the last main process ended, e.g. `exited with status 1`. */
export function exitText(s: UnitState): string | null {
  if (s.execMainCode === 1) return `exited with status ${s.execMainStatus}`;
  if (s.execMainCode === 2 || s.execMainCode === 3) return `killed by signal ${s.execMainStatus}`;
  return null;
}

/** Why a unit in this condition is not healthy, for people; null for running/active. */
export function unitProblem(condition: UnitCondition, s: UnitState | undefined): string | null {
  const exit = s ? exitText(s) : null;
  switch (condition) {
    case "running":
    case "active":
    case "disabled":
      return null;
    case "start-limit-hit":
      return `unit hit its start limit: restarted ${s?.nRestarts ?? 0} times${exit ? `, last ${exit}` : ""}`;
    case "failed":
      return `unit failed (result ${s?.result ?? "?"}${exit ? `, ${exit}` : ""})`;
    case "restarting":
      return `unit restarting after a crash (${s?.nRestarts ?? 0} restarts${exit ? `, last ${exit}` : ""})`;
    default:
      return `unit not active (${condition})`;
  }
}

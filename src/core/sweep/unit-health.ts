/** One look at a profile: its unit's state and a health probe. `health` shows it; `sweep` builds on it. */
import type { Config } from "../../config.js";
import { AppError } from "../../errors.js";
import { describeTarget, probe, type ProbeKind } from "../../probe/types.js";
import { readEnv } from "../../store/profiles.js";
import { UNIT_PATTERN, unitName, type UnitState } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { isEnabledState, unitFileStatesNow } from "../enabled.js";
import { brokenConfig, type BrokenConfig } from "../broken-config.js";
import { profileHealthTarget } from "../health-target.js";
import { profileStartLimits, unitCondition, unitProblem, type StartLimits, type UnitCondition } from "./unit-condition.js";

/** The probe as it was run. */
export interface ProbeReport {
  kind: ProbeKind;
  /** `http://127.0.0.1:8642/health` or `tcp 127.0.0.1:8642`. */
  target: string;
  ok: boolean;
  reason: string;
  status: number | null;
  latencyMs: number;
}

/** A profile's unit and health, at one moment. */
export interface HealthObservation {
  name: string;
  unit: string;
  port: number | null;
  enabled: boolean;
  /** Kept down by `profiles disable` (unit file disabled, unit not active): not counted as unhealthy, never restarted. */
  disabled: boolean;
  condition: UnitCondition;
  activeState: string;
  subState: string;
  result: string;
  mainPid: number | null;
  nRestarts: number;
  /** Null when the unit is not active (nothing to probe) or no target is known. */
  probe: ProbeReport | null;
  healthy: boolean;
  /** Why it is not healthy, most telling first; empty when healthy. */
  problems: string[];
  /** A failing profile whose `.env` differs from its known-good generation (the last of `problems` says so). */
  brokenConfig: BrokenConfig | null;
}

// Conditions in which a profile fails by itself (not stopped or disabled on purpose, not between states).
const FAILING: ReadonlySet<UnitCondition> = new Set(["failed", "start-limit-hit", "restarting", "running", "active"]);

// Conditions of a unit that is not up: a disabled one in them is kept down on purpose.
const STILL_DOWN: ReadonlySet<UnitCondition> = new Set(["stopped", "failed", "start-limit-hit"]);

/** Whether an observation counts against the profiles' health: unhealthy and not disabled on purpose. */
export function countsUnhealthy(o: Pick<HealthObservation, "healthy" | "disabled">): boolean {
  return !o.healthy && !o.disabled;
}

/** The verdict as `health` and `sweep` print it: `healthy`, `disabled`, or `UNHEALTHY: why`. */
export function verdictCell(o: Pick<HealthObservation, "healthy" | "disabled" | "problems">): string {
  if (o.healthy) return "healthy";
  if (o.disabled && o.problems.length === 0) return "disabled";
  return `${o.disabled ? "disabled, " : "UNHEALTHY: "}${o.problems.join("; ")}`;
}

/** The profiles' units as one look at them all found them. */
export interface UnitsNow {
  /** The units in memory, from one ListUnitsByPatterns call; a unit not in memory is absent. */
  loaded: Map<string, UnitState>;
  /** Each profile's unit file state, by profile name (unitFileStatesNow): every profile looked at is in it. */
  fileStates: Map<string, string>;
}

/** One look at the units of profiles `names`: those in memory, and every one's unit file state. */
export async function unitsNow(ctx: Context, names: readonly string[]): Promise<UnitsNow> {
  const sd = await ctx.systemd();
  const [listed, fileStates] = await Promise.all([sd.list([UNIT_PATTERN]), unitFileStatesNow(sd, names)]);
  return { loaded: new Map(listed.map((s) => [s.name, s])), fileStates };
}

/** Look at one profile now: unit condition, then (when active) its probe. Never throws for a profile's own files. */
export async function observeHealth(ctx: Context, config: Config, templateLimits: StartLimits, name: string, units: UnitsNow): Promise<HealthObservation> {
  const unit = unitName(name);
  const s = units.loaded.get(unit);
  const limits = s?.activeState === "failed" ? await profileStartLimits(ctx.paths, name, templateLimits) : templateLimits;
  const fileState = units.fileStates.get(name)!;
  const disabled = fileState === "disabled" && STILL_DOWN.has(unitCondition(s, limits));
  const condition: UnitCondition = disabled ? "disabled" : unitCondition(s, limits);
  const obs: HealthObservation = {
    name,
    unit,
    port: null,
    enabled: isEnabledState(fileState),
    disabled,
    condition,
    activeState: s?.activeState ?? "inactive",
    subState: s?.subState ?? "dead",
    result: s?.result ?? "success",
    mainPid: s && s.mainPid > 0 ? s.mainPid : null,
    nRestarts: s?.nRestarts ?? 0,
    probe: null,
    healthy: false,
    problems: [],
    brokenConfig: null,
  };
  let target;
  try {
    target = await profileHealthTarget(ctx.paths, config, name, await readEnv(ctx.paths, name));
  } catch (err) {
    // One profile's broken file is that profile's verdict, not the end of the whole check.
    if (!(err instanceof AppError)) throw err;
    obs.problems.push(err.message);
    target = null;
  }
  if (target) obs.port = target.port;
  else if (obs.problems.length === 0) obs.problems.push(`no port: ${config.portVar} is missing from its .env`);

  const problem = unitProblem(condition, s);
  if (problem) obs.problems.unshift(problem);
  if (target && (condition === "running" || condition === "active")) {
    const v = await probe(await ctx.prober(), target);
    obs.probe = { kind: target.kind ?? "http", target: describeTarget(target), ok: v.ok, reason: v.reason, status: v.status ?? null, latencyMs: Math.round(v.latencyMs * 10) / 10 };
    if (!v.ok) obs.problems.push(`probe ${v.reason}`);
  }
  obs.healthy = !disabled && obs.problems.length === 0;
  if (!obs.healthy && !disabled && FAILING.has(condition)) {
    obs.brokenConfig = await brokenConfig(ctx.paths, name);
    if (obs.brokenConfig) obs.problems.push(obs.brokenConfig.hint);
  }
  return obs;
}

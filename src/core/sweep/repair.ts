/** What the sweep does about an unhealthy profile: reset and (re)start it, or say why not; and known-good marks. */
import type { Config } from "../../config.js";
import { AppError, BusyError, ExitCode } from "../../errors.js";
import type { ProcessInspector } from "../../proc/process.js";
import { markKnownGood } from "../../store/generations.js";
import { acquireLock, type Lock } from "../../store/lock.js";
import { readEnv } from "../../store/profiles.js";
import { bringUp } from "../bring-up.js";
import type { Context } from "../context.js";
import { gateTarget } from "../health-target.js";
import { lookAt } from "./look.js";
import type { ProfileMemory } from "./state.js";
import type { SweepProfile } from "./types.js";
import type { StartLimits } from "./unit-condition.js";

/** Why an unhealthy profile is left alone, or null when a restart may help. */
export function whyNotRestart(p: SweepProfile, attempts: number, max: number): string | null {
  if (p.condition === "starting" || p.condition === "stopping") return `the unit is ${p.condition}; left to the manager`;
  if (p.portHolder?.status === "foreign") return `its port is held by ${p.portHolder.holder}: a restart cannot help`;
  if (p.port === null) return "its .env or profile.ini needs fixing first";
  if (!p.enabled) return `not enabled, so not restarted: \`profiles start ${p.name}\` starts it`;
  if (attempts >= max) return `--max-restarts ${max} reached`;
  return null;
}

/** Reset, (re)start and wait for one profile, holding its lock, then look at it again. */
export async function restartProfile(
  ctx: Context, config: Config, limits: StartLimits, procs: ProcessInspector, p: SweepProfile, waitMs: number, last: ProfileMemory | undefined,
): Promise<SweepProfile> {
  const lock = await tryProfileLock(ctx, p.name);
  if (!lock) return { ...p, action: { kind: "skipped", reason: "another profiles command holds its lock" } };
  const kind = p.condition === "running" || p.condition === "active" ? "restart" : "start";
  const t0 = Date.now();
  let error: string | null = null;
  try {
    ctx.progress(`${kind === "restart" ? "restarting" : "starting"} ${p.name}: ${p.problems[0] ?? "unhealthy"}`);
    const target = gateTarget(ctx.paths, config, p.name, await readEnv(ctx.paths, p.name));
    // Only the message: the error's details are the gateway's log lines, which may hold secrets.
    await bringUp(ctx, p.name, { restart: kind === "restart", deadlineMs: waitMs, target });
  } catch (err) {
    if (!(err instanceof AppError) || err.exitCode === ExitCode.managerUnreachable) throw err;
    error = err.message.startsWith(`${p.name}: `) ? err.message.slice(p.name.length + 2) : err.message;
  } finally {
    await lock.release();
  }
  const sd = await ctx.systemd();
  const again = await lookAt(ctx, config, limits, procs, await (await ctx.ports()).snapshot(), p.name, new Map([[p.unit, await sd.state(p.unit)]]), last);
  return {
    ...again,
    // Restarts before the sweep acted count once; the new unit's counter starts from what the restart left.
    restartsSinceLastSweep: p.restartsSinceLastSweep,
    restartsTotal: p.restartsTotal,
    before: { healthy: p.healthy, condition: p.condition, problems: p.problems },
    action: { kind, ok: error === null && again.healthy, error, elapsedMs: Date.now() - t0 },
  };
}

/** A healthy profile's `.env` is known-good, unless it changed after the gateway started (then it is not what runs). */
export async function markGood(ctx: Context, config: Config, p: SweepProfile): Promise<void> {
  if (p.drift?.pendingRestart) return;
  // What a sweep finds on most profiles: the file is a generation already marked. Nothing to write, so
  // no lock to take (a sweep of 200 spent ~0.5 s taking locks one after another for this).
  if (p.drift && p.drift.current !== null && p.drift.current === p.drift.knownGood) {
    p.markedKnownGood = p.drift.current;
    return;
  }
  const lock = await tryProfileLock(ctx, p.name);
  if (!lock) {
    p.notes.push("not marked known-good: another profiles command holds its lock");
    return;
  }
  try {
    p.markedKnownGood = (await markKnownGood(ctx.paths, p.name, config.keepGenerations))?.number ?? null;
  } finally {
    await lock.release();
  }
}

// The sweep never waits on a profile another command (a roll, a set) is working on: it skips it.
async function tryProfileLock(ctx: Context, name: string): Promise<Lock | null> {
  try {
    return await acquireLock(ctx.paths.locksDir, `profile-${name}`, "profiles sweep", 0);
  } catch (err) {
    if (err instanceof BusyError) return null;
    throw err;
  }
}

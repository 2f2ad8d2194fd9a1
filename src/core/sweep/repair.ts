/** What the sweep does about an unhealthy profile: reset and (re)start it, or say why not; and known-good marks. */
import type { Config } from "../../config.js";
import { AppError, BadFileError, BusyError, ExitCode } from "../../errors.js";
import type { ProcessInspector } from "../../processes/inspector.js";
import type { Context } from "../context.js";
import { unitFileStatesNow } from "../enabled.js";
import { rollbackProfile } from "../rollback.js";
import { withProfile, type ProfileTx } from "../transaction.js";
import { lookAt } from "./one-profile.js";
import type { ProfileMemory } from "./state.js";
import type { SweepProfile } from "./types.js";
import type { StartLimits } from "./unit-condition.js";

/** Why an unhealthy profile is left alone, or null when a restart (a rollback, with `rollbackBroken`, for one broken by its .env) may help. */
export function whyNotRestart(p: SweepProfile, attempts: number, max: number, rollbackBroken = false): string | null {
  if (p.condition === "starting" || p.condition === "stopping") return `the unit is ${p.condition}; left to the manager`;
  if (p.portHolder?.status === "foreign") return `its port is held by ${p.portHolder.holder}: a restart cannot help`;
  if (p.port === null) return "its .env or profile.ini needs fixing first";
  if (!p.enabled) return `not enabled, so not restarted: \`profiles enable ${p.name}\` enables and starts it`;
  // Restarting it would only crash it again, every night: its own .env is the likely cause.
  if (p.brokenConfig && !rollbackBroken) return `a restart would fail the same way: ${p.brokenConfig.hint} (or \`profiles sweep --restart-unhealthy --rollback-broken\`)`;
  if (attempts >= max) return `--max-restarts ${max} reached`;
  return null;
}

/** Reset, (re)start and wait for one profile in a transaction (never waiting for its lock), then look at it again. */
export async function restartProfile(
  ctx: Context, config: Config, limits: StartLimits, procs: ProcessInspector, p: SweepProfile, waitMs: number, last: ProfileMemory | undefined,
): Promise<SweepProfile> {
  const kind = p.condition === "running" || p.condition === "active" ? "restart" : "start";
  return actThenLook(ctx, config, limits, procs, p, last, kind, async () => {
    const done = await unlessBusy(ctx, p.name, async (tx) => {
      ctx.progress(`${kind === "restart" ? "restarting" : "starting"} ${p.name}: ${p.problems[0] ?? "unhealthy"}`);
      return tx.bringUp(kind, waitMs);
    });
    return done === null ? null : { marked: done.knownGood.generation };
  });
}

/** `--rollback-broken`: put a profile broken by its .env back on its known-good generation through the gate (`profiles rollback`), then look at it again. */
export async function rollbackBroken(
  ctx: Context, config: Config, limits: StartLimits, procs: ProcessInspector, p: SweepProfile, waitMs: number, last: ProfileMemory | undefined,
): Promise<SweepProfile> {
  return actThenLook(ctx, config, limits, procs, p, last, "rollback", async () => {
    ctx.progress(`rolling ${p.name} back: ${p.brokenConfig?.hint ?? "its .env changed since known-good"}`);
    try {
      const r = await rollbackProfile(ctx, p.name, { restart: true, waitMs });
      return { marked: r.knownGood?.generation ?? null };
    } catch (err) {
      if (err instanceof BusyError) return null;
      throw err;
    }
  });
}

/**
 * Run `act` (null: another command holds the profile's lock, so it was skipped), then look at the
 * profile again and record what was done.
 */
async function actThenLook(
  ctx: Context, config: Config, limits: StartLimits, procs: ProcessInspector, p: SweepProfile, last: ProfileMemory | undefined,
  kind: "restart" | "start" | "rollback", act: () => Promise<{ marked: number | null } | null>,
): Promise<SweepProfile> {
  const t0 = Date.now();
  let error: string | null = null;
  let marked: number | null = null;
  try {
    const done = await act();
    if (done === null) return { ...p, action: { kind: "skipped", reason: "another profiles command holds its lock" } };
    marked = done.marked;
  } catch (err) {
    if (!(err instanceof AppError) || err.exitCode === ExitCode.managerUnreachable) throw err;
    // Only the message: the error's details are the gateway's log lines, which may hold secrets.
    error = err.message.startsWith(`${p.name}: `) ? err.message.slice(p.name.length + 2) : err.message;
  }
  const sd = await ctx.systemd();
  // The unit file state is asked again too: the look after an action is exact.
  const units = { loaded: new Map([[p.unit, await sd.state(p.unit)]]), fileStates: await unitFileStatesNow(sd, [p.name], { fresh: true }) };
  const again = await lookAt(ctx, config, limits, procs, await (await ctx.ports()).snapshot(), p.name, units, last);
  return {
    ...again,
    // Restarts before the sweep acted count once; the new unit's counter starts from what the restart left.
    restartsSinceLastSweep: p.restartsSinceLastSweep,
    restartsTotal: p.restartsTotal,
    before: { healthy: p.healthy, condition: p.condition, problems: p.problems },
    markedKnownGood: marked ?? again.markedKnownGood,
    action: { kind, ok: error === null && again.healthy, error, elapsedMs: Date.now() - t0 },
  };
}

/**
 * A healthy profile's `.env` is known-good when the running gateway started with it: not when the file
 * changed after it started (its environment, or where that cannot be read its start time, tells).
 */
export async function markGood(ctx: Context, config: Config, p: SweepProfile): Promise<void> {
  if (p.drift?.pendingRestart) return;
  // What a sweep finds on most profiles: the file is a generation already marked. Nothing to write, so
  // no lock to take (a sweep of 200 spent ~0.5 s taking locks one after another for this).
  if (p.drift && p.drift.current !== null && p.drift.current === p.drift.knownGood) {
    p.markedKnownGood = p.drift.current;
    return;
  }
  if (p.mainPid === null) return;
  const pid = p.mainPid;
  const mark = await unlessBusy(ctx, p.name, (tx) => tx.markRunning(pid)).catch((err: unknown) => {
    // A `.env` broken by hand is reported as such elsewhere; it is simply not marked.
    if (err instanceof BadFileError) return { generation: null, why: "its .env does not parse" };
    throw err;
  });
  if (mark === null) p.notes.push("not marked known-good: another profiles command holds its lock");
  else if (mark.generation === null) p.notes.push(`not marked known-good: ${mark.why}`);
  else p.markedKnownGood = mark.generation;
}

// The sweep never waits on a profile another command (a roll, a set) is working on: it skips it (null).
async function unlessBusy<T>(ctx: Context, name: string, fn: (tx: ProfileTx) => Promise<T>): Promise<T | null> {
  try {
    return await withProfile(ctx, name, { command: "profiles sweep", waitMs: 0 }, fn);
  } catch (err) {
    if (err instanceof BusyError) return null;
    throw err;
  }
}

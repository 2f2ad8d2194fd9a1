import { AppError, BadFileError } from "../../errors.js";
import { history, markKnownGood } from "../../store/generations.js";
import { withProfileLock } from "../../store/lock.js";
import { readProfileSettings } from "../../store/profile-settings.js";
import { profileExists, readEnv } from "../../store/profiles.js";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { gateTarget, withProfileSettings } from "../health-target.js";
import { restoreGeneration } from "../rollback.js";
import type { GateFailure } from "./failure.js";
import { restartAndGate } from "./gate.js";
import { HALTING, UNSETTLED } from "./record.js";
import type { RollRecorder } from "./recorder.js";
import { skippedText } from "./report.js";
import { holdsGeneration, revertTarget } from "./revert.js";

/** How a run of the roll ended; `interrupted` leaves the record unfinished, to be resumed. */
export type RunOutcome = "completed" | "halted" | "interrupted";

/** What the runner tells the progress view, besides the record's own changes. */
export interface RollObserver {
  batchStarted(index: number): void;
  /** A step inside one profile's gate: "restarting", "healthy, holding for 5 s", ... */
  note(name: string, text: string): void;
}

export interface RunHooks {
  observer: RollObserver;
  /** The signal that asked the roll to stop after its batch, or null. */
  stopRequested(): string | null;
  /** Poll interval of the gates (tests shorten it). */
  pollMs?: number;
}

/** The roll-wide deadline: pushed back each time a profile turns healthy. */
class ProgressClock {
  private at: number;
  constructor(private readonly ms: number) {
    this.at = ms > 0 ? Date.now() + ms : Infinity;
  }
  deadline = (): number => this.at;
  touch(): void {
    if (this.ms > 0) this.at = Date.now() + this.ms;
  }
}

/**
 * Run (or resume) the roll in `rec`: batch after batch, every unsettled profile of a batch at once.
 * A batch with a failed profile halts the roll once all its profiles have settled; a stop request is
 * honoured between batches only, so no restart is ever cut short. Errors that are no gate failure (the
 * manager lost, a lock held elsewhere) are thrown after the batch settles, leaving the record unfinished.
 */
export async function runRoll(ctx: Context, rec: RollRecorder, hooks: RunHooks): Promise<RunOutcome> {
  const { plan } = rec.record;
  const clock = new ProgressClock(rec.record.options.progressDeadlineMs);
  for (const [index, batch] of plan.entries()) {
    const todo = batch.names.filter((n) => UNSETTLED.has(rec.entry(n).state));
    if (todo.length > 0) {
      const signal = hooks.stopRequested();
      if (signal) {
        await rec.interrupt(signal);
        return "interrupted";
      }
      hooks.observer.batchStarted(index);
      const settled = await Promise.allSettled(todo.map((n) => rollOne(ctx, rec, n, clock, hooks)));
      const thrown = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (thrown) throw thrown.reason;
    }
    if (batch.names.some((n) => HALTING.has(rec.entry(n).state))) {
      await rec.finish("halted");
      return "halted";
    }
  }
  await rec.finish("completed");
  return "completed";
}

/** Roll one profile; a failed gate is reverted after its lock is let go (the restore takes its own locks). */
async function rollOne(ctx: Context, rec: RollRecorder, name: string, clock: ProgressClock, hooks: RunHooks): Promise<void> {
  if (!(await profileExists(ctx.paths, name))) {
    await rec.update(name, { state: "skipped", reason: "the profile no longer exists", endedAt: new Date().toISOString() });
    return;
  }
  const entry = rec.entry(name);
  if (entry.state === "reverting" && entry.revertedTo !== null) return revert(ctx, rec, name, entry.revertedTo, hooks);
  // The gate's outcome when it failed (reverted after the lock is let go), null when the profile rolled.
  const failed = await withProfileLock(ctx.paths.locksDir, name, "profiles roll", async () => {
    const sd = await ctx.systemd();
    const [h, { mainPid: running }] = await Promise.all([history(ctx.paths, name), sd.runState(unitName(name))]);
    // A profile re-gated after a kill keeps the PID it had before the roll first restarted it.
    await rec.update(name, {
      state: "rolling",
      generation: h.current,
      attempts: entry.attempts + 1,
      pidBefore: entry.state === "rolling" ? entry.pidBefore : running || null,
      startedAt: entry.startedAt ?? new Date().toISOString(),
    });
    const r = await gateAndMark(ctx, rec, name, hooks, clock);
    if (r.failure) return r;
    clock.touch();
    await rec.update(name, { state: "rolled", generation: r.generation ?? h.current, pidAfter: r.pid, endedAt: new Date().toISOString() });
    return null;
  });
  if (failed?.failure) await fail(ctx, rec, name, failed.failure, failed.pid, hooks);
}

/**
 * Restart and gate a profile whose lock the caller holds, and mark its generation known-good when it
 * passes: under the lock, no `set` can change the file between the restart and the mark.
 */
async function gateAndMark(ctx: Context, rec: RollRecorder, name: string, hooks: RunHooks, clock: ProgressClock | null): Promise<{ failure: GateFailure | null; pid: number | null; generation: number | null }> {
  const config = await ctx.config();
  const { options } = rec.record;
  let target;
  try {
    // Unlike bringUp, the roll gate takes the target as it is: profile.ini is applied here.
    target = withProfileSettings(gateTarget(ctx.paths, config, name, await readEnv(ctx.paths, name)), await readProfileSettings(ctx.paths, name));
  } catch (err) {
    if (!(err instanceof BadFileError)) throw err;
    return { failure: { kind: "bad-env", message: `its settings are not usable (nothing restarted): ${err.message}`, details: [] }, pid: null, generation: null };
  }
  const r = await restartAndGate(ctx, name, {
    minHealthyMs: options.minHealthyMs,
    healthyDeadlineMs: options.healthyDeadlineMs,
    // A revert is not bounded by the progress deadline: it must get its chance to bring the profile back.
    progressDeadline: clock ? clock.deadline : () => Infinity,
    progressDeadlineMs: options.progressDeadlineMs,
    target,
    // A revert (no clock) restarts even in a reload roll: the gateway it brings back may not be running.
    reload: clock !== null && options.reload === true,
    pollMs: hooks.pollMs,
    onNote: (text) => hooks.observer.note(name, text),
  });
  // pidAfter goes into the record with the caller's next update: one write fewer per profile.
  if (r.failure) return { failure: r.failure, pid: r.pid, generation: null };
  const good = await markKnownGood(ctx.paths, name, config.keepGenerations);
  return { failure: null, pid: r.pid, generation: good?.number ?? null };
}

/** A failed gate: revert to the newest known-good generation (unless --no-auto-revert), or just record it. */
async function fail(ctx: Context, rec: RollRecorder, name: string, failure: GateFailure, pidAfter: number | null, hooks: RunHooks): Promise<void> {
  const base = { failure: failure.kind, reason: failure.message, details: failure.details, pidAfter };
  if (!rec.record.options.autoRevert) {
    await rec.update(name, { ...base, state: "failed", revertProblem: "not reverted (--no-auto-revert)", endedAt: new Date().toISOString() });
    return;
  }
  const target = await revertTarget(ctx.paths, name);
  const skipped = target.skipped.length > 0 ? { revertSkipped: target.skipped } : {};
  if ("none" in target) {
    await rec.update(name, { ...base, ...skipped, state: "failed", revertProblem: `nothing to revert to: ${target.none}`, endedAt: new Date().toISOString() });
    return;
  }
  // Recorded before the file changes, so that a roll killed from here on finishes this revert.
  await rec.update(name, { ...base, ...skipped, state: "reverting", revertedTo: target.generation.number });
  await revert(ctx, rec, name, target.generation.number, hooks);
}

/** Put known-good generation `n` back (as a new generation), restart it and gate it again. */
async function revert(ctx: Context, rec: RollRecorder, name: string, n: number, hooks: RunHooks): Promise<void> {
  hooks.observer.note(name, `reverting to generation ${n}${skippedText(rec.entry(name))}`);
  try {
    if (!(await holdsGeneration(ctx.paths, name, n))) await restoreGeneration(ctx, name, n, `roll: revert to ${n} (${rec.entry(name).failure ?? "failed"})`);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await rec.update(name, { state: "failed", revertProblem: `could not restore generation ${n}: ${err.message}`, endedAt: new Date().toISOString() });
    return;
  }
  const r = await withProfileLock(ctx.paths.locksDir, name, "profiles roll (revert)", () => gateAndMark(ctx, rec, name, hooks, null));
  if (r.failure) {
    await rec.update(name, { state: "failed", pidAfter: r.pid, revertProblem: `reverted to generation ${n}, but it is still not healthy: ${r.failure.message}`, endedAt: new Date().toISOString() });
    return;
  }
  await rec.update(name, { state: "reverted", pidAfter: r.pid, endedAt: new Date().toISOString() });
}

import { AppError, BadFileError, ProfileNotFoundError } from "../../errors.js";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { withProfile, type ProfileTx } from "../transaction.js";
import type { GateFailure } from "./failure.js";
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

/**
 * Roll one profile in one transaction: restart, gate and mark under its lock. A failed gate is reverted
 * in a second one, which takes the "ports" lock as well and so cannot nest in the first (lock order).
 * A profile removed meanwhile is skipped, not failed.
 */
async function rollOne(ctx: Context, rec: RollRecorder, name: string, clock: ProgressClock, hooks: RunHooks): Promise<void> {
  const entry = rec.entry(name);
  if (entry.state === "reverting" && entry.revertedTo !== null) return revert(ctx, rec, name, entry.revertedTo, hooks);
  // The gate's outcome when it failed (reverted after the lock is let go), null when the profile rolled.
  const failed = await ifExists(rec, name, () =>
    withProfile(ctx, name, { command: "profiles roll" }, async (tx) => {
      // The PID alone, one Get, where a run state is four: a roll asks it of every profile.
      const [h, { MainPID: running }] = await Promise.all([tx.generations.history(), (await ctx.systemd()).properties(unitName(name), ["MainPID"])]);
      // A profile re-gated after a kill keeps the PID it had before the roll first restarted it.
      await rec.update(name, {
        state: "rolling",
        generation: h.current,
        attempts: entry.attempts + 1,
        pidBefore: entry.state === "rolling" ? entry.pidBefore : Number(running) || null,
        startedAt: entry.startedAt ?? new Date().toISOString(),
      });
      const r = await gateAndMark(tx, rec, name, hooks, clock);
      if (r.failure) return r;
      clock.touch();
      await rec.update(name, { state: "rolled", generation: r.generation ?? h.current, pidAfter: r.pid, endedAt: new Date().toISOString() });
      return null;
    }),
  );
  if (failed?.failure) await fail(ctx, rec, name, failed.failure, failed.pid, hooks);
}

/** `fn`, or the profile recorded as skipped when it no longer exists (a `remove` came first). */
async function ifExists<T>(rec: RollRecorder, name: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ProfileNotFoundError)) throw err;
    await rec.update(name, { state: "skipped", reason: "the profile no longer exists", endedAt: new Date().toISOString() });
    return null;
  }
}

/**
 * Restart and gate a profile in transaction `tx`, which marks the generation the gate started with
 * known-good when it passes. A `.env` that cannot be started is a failed gate ("bad-env"), nothing restarted.
 */
async function gateAndMark(tx: ProfileTx, rec: RollRecorder, name: string, hooks: RunHooks, clock: ProgressClock | null): Promise<{ failure: GateFailure | null; pid: number | null; generation: number | null }> {
  const { options } = rec.record;
  try {
    const { result, knownGood } = await tx.gate({
      minHealthyMs: options.minHealthyMs,
      healthyDeadlineMs: options.healthyDeadlineMs,
      // A revert is not bounded by the progress deadline: it must get its chance to bring the profile back.
      progressDeadline: clock ? clock.deadline : () => Infinity,
      progressDeadlineMs: options.progressDeadlineMs,
      // A revert (no clock) restarts even in a reload roll: the gateway it brings back may not be running.
      reload: clock !== null && options.reload === true,
      pollMs: hooks.pollMs,
      onNote: (text) => hooks.observer.note(name, text),
    });
    if (knownGood?.why) hooks.observer.note(name, `not marked known-good: ${knownGood.why}`);
    // pidAfter goes into the record with the caller's next update: one write fewer per profile.
    return { failure: result.failure, pid: result.pid, generation: knownGood?.generation ?? null };
  } catch (err) {
    if (!(err instanceof BadFileError)) throw err;
    return { failure: { kind: "bad-env", message: `its settings are not usable (nothing restarted): ${err.message}`, details: [] }, pid: null, generation: null };
  }
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

/** Put known-good generation `n` back (as a new generation), restart it and gate it again: one transaction. */
async function revert(ctx: Context, rec: RollRecorder, name: string, n: number, hooks: RunHooks): Promise<void> {
  hooks.observer.note(name, `reverting to generation ${n}${skippedText(rec.entry(name))}`);
  const reason = `roll: revert to ${n} (${rec.entry(name).failure ?? "failed"})`;
  const r = await ifExists(rec, name, () =>
    withProfile(ctx, name, { command: "profiles roll (revert)", ports: true }, async (tx) => {
      try {
        if (!(await holdsGeneration(ctx.paths, name, n))) await tx.restore(n, reason);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        return { problem: `could not restore generation ${n}: ${err.message}` };
      }
      return gateAndMark(tx, rec, name, hooks, null);
    }),
  );
  if (r === null) return;
  if ("problem" in r) {
    await rec.update(name, { state: "failed", revertProblem: r.problem, endedAt: new Date().toISOString() });
    return;
  }
  if (r.failure) {
    await rec.update(name, { state: "failed", pidAfter: r.pid, revertProblem: `reverted to generation ${n}, but it is still not healthy: ${r.failure.message}`, endedAt: new Date().toISOString() });
    return;
  }
  await rec.update(name, { state: "reverted", pidAfter: r.pid, endedAt: new Date().toISOString() });
}

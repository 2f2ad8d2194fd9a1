import { SystemdError } from "../../errors.js";
import type { ProbeTarget, ProbeVerdict } from "../../probe/types.js";
import { isRunning, unitName, type JobResult } from "../../systemd/types.js";
import { PROBE_EVERY_MS, RunStateWatch, StartingProbe } from "../bring-up.js";
import type { Context } from "../context.js";
import { markOutput, outputSince } from "../logs/since.js";
import { foreignNote, heldText, unitPortHolder, type PortHolder } from "../port-owner.js";
import { stateFailure, timeoutFailure, type GateFailure, type Seen } from "./failure.js";
import { secondsText } from "./options.js";

/** How a gate ended. */
export interface GateResult {
  failure: GateFailure | null;
  /** Main PID once the gate ended (null when none runs). */
  pid: number | null;
  elapsedMs: number;
}

export interface GateOptions {
  minHealthyMs: number;
  healthyDeadlineMs: number;
  /** The roll-wide deadline (epoch ms), read on every poll: other profiles turning healthy push it back. */
  progressDeadline: () => number;
  /** For the failure message when the progress deadline is the one that ran out. */
  progressDeadlineMs: number;
  /** Where the health probe goes (`gateTarget`): its port must be held by the unit itself. */
  target: ProbeTarget;
  pollMs?: number;
  /** Reload (the unit's ExecReload=) instead of restart: the main PID must then stay the same. */
  reload?: boolean;
  /** What the gate is doing, for progress output. */
  onNote?: (text: string) => void;
}


/**
 * Reset a failed state, restart the profile's unit through the manager (waiting for the job), then
 * require it active, its health probe passing, its port held by its own processes, and its restart
 * count and main PID still, continuously for `minHealthyMs`, before `healthyDeadlineMs` (or the roll's
 * progress deadline) runs out. Failures are results, not throws; only a manager that cannot be reached
 * (or a bug) throws.
 */
export async function restartAndGate(ctx: Context, profile: string, opts: GateOptions): Promise<GateResult> {
  const started = Date.now();
  const ownDeadline = started + opts.healthyDeadlineMs;
  const unit = unitName(profile);
  const sd = await ctx.systemd();
  const prober = await ctx.prober();
  const port = opts.target.port;
  // Taken before the job: a failure shows what this restart wrote, not the lines of earlier runs.
  const mark = await markOutput(ctx, profile);
  const result = async (failure: Omit<GateFailure, "details"> | null, pid: number | null): Promise<GateResult> => {
    if (!failure) return { failure: null, pid, elapsedMs: Date.now() - started };
    // Another process on the port is often why a gateway fails: say so with whatever else is said.
    const note = failure.kind === "port-taken" ? "" : await foreignNote(ctx, unit, port, pid);
    const details = await outputSince(ctx, mark);
    return { failure: { ...failure, message: failure.message + note, details }, pid, elapsedMs: Date.now() - started };
  };

  const verb = opts.reload ? "reload" : "restart";
  // A unit in start-limit-hit refuses every start until its failed state is reset; a reload needs it running.
  if (!opts.reload) await sd.resetFailed(unit);
  opts.onNote?.(opts.reload ? "reloading" : "restarting");
  let job: JobResult;
  try {
    job = await (opts.reload ? sd.reloadUnit(unit, { timeoutMs: opts.healthyDeadlineMs }) : sd.restart(unit, { timeoutMs: opts.healthyDeadlineMs }));
  } catch (err) {
    if (!(err instanceof SystemdError)) throw err;
    return result({ kind: "job-failed", message: `the ${verb} job failed: ${err.message}` }, null);
  }
  // Open before the job's result is looked at: the first read is the one the result is judged by.
  const watch = await RunStateWatch.open(sd, unit);
  const first = watch.state;
  try {
    ctx.log.debug({ unit, job, pid: first.mainPid, ms: Date.now() - started }, `roll: ${verb} job finished`);
    if (job !== "done") {
      const why = stateFailure(first, first.nRestarts);
      return result({ kind: "job-failed", message: `the ${verb} job ended "${job}"${why ? `: ${why.message}` : ""}` }, null);
    }
    // The job's `done` proves little (a gateway that dies right after exec ends it `done` too): watch.
    const baseline = first.nRestarts;
    const pid = first.mainPid;
    opts.onNote?.(`${opts.reload ? "reloaded" : "restarted"} (pid ${pid}), waiting for health`);
    let healthySince: number | null = null;
    const seen: Seen = { verdict: null, answered: null, state: `${first.activeState}/${first.subState}`, everHealthy: false, byProgress: false };
    const pidChanged = (now: number) => ({ kind: "crashed" as const, message: `crashed: its main process changed from ${pid} to ${now}` });
    // Looked at when the probe first passes and again once it has held, never on every probe: it reads /proc.
    const ownership = (): Promise<PortHolder> => unitPortHolder(ctx, unit, port, pid);
    const taken = (holder: string) => ({ kind: "port-taken" as const, message: `${heldText(port, holder, unit)}: the health answers came from it` });
    const knock = new StartingProbe(prober);
    let s = first;
    for (;;) {
      const dead = stateFailure(s, baseline) ?? (pid > 0 && s.mainPid > 0 && s.mainPid !== pid ? pidChanged(s.mainPid) : null);
      if (dead) return result(dead, s.mainPid || null);
      seen.state = `${s.activeState}/${s.subState}`;
      const deadline = Math.min(ownDeadline, opts.progressDeadline());
      if (isRunning(s)) {
        let verdict: ProbeVerdict = await knock.next({ ...opts.target, timeoutMs: Math.max(100, Math.min(opts.target.timeoutMs, deadline - Date.now())) });
        ctx.log.debug({ unit, ok: verdict.ok, reason: verdict.reason, latencyMs: verdict.latencyMs }, "roll: health probe");
        if (verdict.ok && healthySince === null) {
          const held = await ownership();
          if (held.status === "foreign") return result(taken(held.holder), s.mainPid || null);
          if (held.status === "free") verdict = { ok: false, reason: `answered, but nothing listens on port ${port} now`, latencyMs: verdict.latencyMs };
        }
        seen.verdict = verdict;
        if (!verdict.ok && verdict.status !== undefined) seen.answered = verdict;
        if (verdict.ok) {
          healthySince ??= Date.now();
          if (!seen.everHealthy && opts.minHealthyMs > 0) opts.onNote?.(`healthy, must stay so for ${secondsText(opts.minHealthyMs)}`);
          seen.everHealthy = true;
          if (Date.now() - healthySince >= opts.minHealthyMs) {
            // The probe took time: the unit must still be the same process, unrestarted.
            const after = await watch.fresh();
            const late = stateFailure(after, baseline) ?? (after.mainPid !== pid ? pidChanged(after.mainPid) : null);
            // With no min-healthy-time the port was looked at just now, when the probe first passed.
            if (late || opts.minHealthyMs === 0) return result(late, after.mainPid || null);
            const held = await ownership();
            if (held.status === "foreign") return result(taken(held.holder), after.mainPid || null);
            if (held.status === "own") return result(null, after.mainPid || null);
            healthySince = null;
          }
        } else {
          if (healthySince !== null) opts.onNote?.(`health failed (${verdict.reason}), waiting again`);
          healthySince = null;
        }
      } else {
        healthySince = null;
      }
      if (Date.now() >= deadline) {
        seen.byProgress = opts.progressDeadline() < ownDeadline;
        return result(timeoutFailure(opts, seen), s.mainPid || null);
      }
      // Probed on a pace while it runs; while it does not, nothing to do until the manager says it changed.
      s = await watch.next(isRunning(s) ? (opts.pollMs ?? PROBE_EVERY_MS) : deadline - Date.now());
    }
  } finally {
    watch.close();
  }
}

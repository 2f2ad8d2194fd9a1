import { InterruptedError, JobTimeoutError, UnhealthyError } from "../errors.js";
import { unlessAborted } from "./stop-signals.js";
import { REFUSED } from "../probe/reasons.js";
import { probe, type Prober, type ProbeTarget, type ProbeVerdict } from "../probe/types.js";
import { readProfileSettings } from "../store/profile-settings.js";
import { isRunning, unitName, type RunState, type SystemdManager } from "../systemd/types.js";
import type { Context } from "./context.js";
import { withProfileSettings } from "./health-target.js";
import { markOutput, outputSince, type OutputMark } from "./logs/since.js";
import { foreignNote, heldText, unitPortHolder } from "./port-owner.js";

/** How a profile came up. */
export interface BringUpResult {
  profile: string;
  unit: string;
  state: RunState;
  probe: ProbeVerdict | null;
  elapsedMs: number;
}

export interface BringUpOptions {
  /** Restart instead of start. */
  restart?: boolean;
  /** Reload (the unit's ExecReload=) instead of start: the gateway keeps running and re-reads its settings. */
  reload?: boolean;
  /** The whole wait: job, active state and first passing probe. */
  deadlineMs: number;
  /** Where the health probe goes (`gateTarget`): its port must end up held by the unit itself. */
  target: ProbeTarget;
  pollMs?: number;
  /** Aborted by a deferred Ctrl-C or SIGTERM (deferStopSignals): the wait ends with an InterruptedError. */
  signal?: AbortSignal;
}

/** How often a starting gateway is probed (here and in the roll gate): a refused connect costs microseconds. */
export const PROBE_EVERY_MS = 5;
/**
 * How long a wait goes without reading the unit's state: it is read again when the manager signals a
 * change of the unit, and this often besides, in case a signal was missed. A passing probe is always
 * confirmed by a fresh read.
 */
const SAFETY_READ_MS = 1000;

/**
 * A unit's run state as a wait for it sees it (bringUp here, the roll gate): read when the manager
 * signals a change of the unit, not polled. `close` it when the wait ends.
 */
export class RunStateWatch {
  private readAt = 0;
  private changed = false;
  private wake: (() => void) | null = null;
  /** The state as last read. */
  public state!: RunState;

  private constructor(
    private readonly sd: SystemdManager,
    private readonly unit: string,
    private readonly stop: () => void,
  ) {}

  /** Subscribes to the unit's changes, then reads its state (in that order: no change falls between). */
  static async open(sd: SystemdManager, unit: string): Promise<RunStateWatch> {
    let watch: RunStateWatch | undefined;
    const stop = await sd.onUnitChange(unit, () => watch?.signal());
    watch = new RunStateWatch(sd, unit, stop);
    try {
      await watch.fresh();
    } catch (err) {
      stop();
      throw err;
    }
    return watch;
  }

  private signal(): void {
    this.changed = true;
    this.wake?.();
  }

  /**
   * Waits up to `ms`, less if the unit changes, then returns its state: read again if the manager signalled
   * a change or SAFETY_READ_MS have passed since the last read, else the last one.
   */
  async next(ms: number): Promise<RunState> {
    const safetyAt = this.readAt + SAFETY_READ_MS;
    const wait = Math.min(ms, safetyAt - Date.now());
    if (!this.changed && wait > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.changed || Date.now() >= safetyAt ? this.fresh() : this.state;
  }

  /** Read now, e.g. to confirm that a passing probe was answered by the same, still running unit. */
  async fresh(): Promise<RunState> {
    this.changed = false;
    this.state = await this.sd.runState(this.unit);
    this.readAt = Date.now();
    return this.state;
  }

  /** Stops listening to the unit's changes. */
  close(): void {
    this.stop();
    this.wake?.();
  }
}

/**
 * Probes a gateway that is starting: once a probe is refused (nothing listens yet), bare TCP connects stand
 * in for it until one is accepted, then the target's own probe runs again. A refused HTTP probe costs about
 * four times the CPU of a refused connect, and a starting gateway refuses a dozen or more (BENCHMARKS.md).
 */
export class StartingProbe {
  private refused = false;

  constructor(private readonly prober: Prober) {}

  /** The target's probe, or a refused connect standing in for it. */
  async next(target: ProbeTarget): Promise<ProbeVerdict> {
    if (this.refused && target.kind !== "tcp") {
      const connect = await this.prober.tcp(target);
      if (!connect.ok) return connect;
    }
    const verdict = await probe(this.prober, target);
    this.refused = verdict.reason === REFUSED;
    return verdict;
  }
}

// CLD_* codes of ExecMainCode; 0 means the manager has not recorded an exit (yet).
function exitPhrase(state: RunState): string | null {
  if (state.execMainCode === 1) return `it exited with status ${state.execMainStatus}`;
  if (state.execMainCode === 2 || state.execMainCode === 3) return `it was killed by signal ${state.execMainStatus}`;
  return null;
}

/** The error for a failed start, with what the gateway wrote since `mark` (this start's output only). */
async function failure(ctx: Context, profile: string, summary: string, mark: OutputMark): Promise<UnhealthyError> {
  const tail = await outputSince(ctx, mark);
  const hint = tail.length > 0 ? `run \`profiles status ${profile}\`` : `run \`profiles status ${profile}\`, and \`profiles logs ${profile}\` for its output`;
  return new UnhealthyError(`${profile}: ${summary}`, tail, hint);
}

/**
 * Why a start job is still running at the deadline. With Type=notify the manager keeps a start job open
 * until the gateway sends READY=1, so "still activating" means it never said it was ready.
 */
async function jobTimeoutSummary(ctx: Context, unit: string, verb: string, deadlineMs: number): Promise<string> {
  const sd = await ctx.systemd();
  const state = await sd.state(unit);
  const { Type } = await sd.properties(unit, ["Type"]);
  const seen = `${state.activeState}/${state.subState}`;
  const why = Type === "notify" && state.activeState === "activating"
    ? `: the unit is Type=notify and the gateway never sent READY=1 (it must, once it listens)`
    : "";
  return `not ready within ${Math.round(deadlineMs / 1000)} s: the ${verb} job did not finish (last seen: ${seen})${why}`;
}

/**
 * Start (or restart) a profile's unit and wait until it is active, its health probe passes, and the port
 * is held by the unit's own processes. The job's `done` proves little: a gateway that dies right after
 * exec ends its job `done` too, so the unit state, restart count and main PID are watched until the probe
 * answers or the deadline passes; and an answer proves little until the answering socket is the unit's,
 * not that of an old gateway still holding the port (which the new one then crash-loops against).
 */
export async function bringUp(ctx: Context, profile: string, opts: BringUpOptions): Promise<BringUpResult> {
  const started = Date.now();
  const deadline = started + opts.deadlineMs;
  const unit = unitName(profile);
  // The profile's own probe settings (profile.ini) win over a target its caller built from config.ini alone;
  // read before anything changes, so that a broken profile.ini stops here.
  const target = withProfileSettings(opts.target, await readProfileSettings(ctx.paths, profile));
  const sd = await ctx.systemd();
  const verb = opts.reload ? "reload" : opts.restart ? "restart" : "start";
  if (opts.signal?.aborted) {
    const sig = String(opts.signal.reason);
    throw new InterruptedError(sig, `${profile}: ${sig} came before its ${verb}, which was not asked for`, `run \`profiles ${verb} ${profile}\``);
  }
  // A unit in start-limit-hit refuses every start until its failed state is reset; a reload needs it running.
  if (!opts.reload) await sd.resetFailed(unit);
  const jobOpts = { timeoutMs: opts.deadlineMs };
  // Taken before the job: a failure shows what this start wrote, not the lines of earlier runs.
  const mark = await markOutput(ctx, profile);
  // Another process on the port is often why a gateway fails: say so with whatever else is said.
  const fail = async (summary: string, mainPid: number) => failure(ctx, profile, summary + (await foreignNote(ctx, unit, target.port, mainPid)), mark);
  // The job goes on in the manager when the wait for it is given up: say so, and where to look.
  const interrupted = (sig: string): InterruptedError =>
    new InterruptedError(sig, `${profile}: ${sig} stopped the wait for its ${verb}, which goes on in the manager; not marked known-good`, `run \`profiles status ${profile}\``);
  let job;
  try {
    job = await unlessAborted(opts.reload ? sd.reloadUnit(unit, jobOpts) : opts.restart ? sd.restart(unit, jobOpts) : sd.start(unit, jobOpts), opts.signal, interrupted);
  } catch (err) {
    if (!(err instanceof JobTimeoutError)) throw err;
    throw await fail(await jobTimeoutSummary(ctx, unit, verb, opts.deadlineMs), 0);
  }
  ctx.log.debug({ unit, job, ms: Date.now() - started }, `${verb} job finished`);
  if (job !== "done") {
    const state = await sd.state(unit);
    const exit = exitPhrase(state);
    throw await fail(`the ${verb} job ended "${job}" (${state.activeState}/${state.subState}, result ${state.result}${exit ? `, ${exit}` : ""})`, state.mainPid);
  }
  const watch = await RunStateWatch.open(sd, unit);
  const first = watch.state;
  try {
    const baseline = first.nRestarts;
    // The process the answers must come from: the main PID once the unit runs (a reload keeps it).
    let pid = isRunning(first) ? first.mainPid : 0;
    const knock = new StartingProbe(await ctx.prober());
    let lastReason = "not active yet";
    let state = first;
    for (;;) {
      if (opts.signal?.aborted) throw interrupted(String(opts.signal.reason));
      if (state.activeState === "failed" || (state.activeState === "inactive" && state.subState === "dead")) {
        const exit = exitPhrase(state);
        throw await fail(`the unit ${state.activeState === "failed" ? "failed" : "stopped"}${exit ? `: ${exit}` : ""} (result ${state.result})`, state.mainPid);
      }
      if (state.nRestarts > baseline) {
        const exit = exitPhrase(state);
        throw await fail(`crashed${exit ? `: ${exit}` : ""} and was restarted ${state.nRestarts - baseline} time(s)`, state.mainPid);
      }
      if (pid > 0 && state.mainPid > 0 && state.mainPid !== pid) throw await fail(`its main process changed from ${pid} to ${state.mainPid}`, state.mainPid);
      if (isRunning(state)) {
        pid ||= state.mainPid;
        // The full probe timeout even near the deadline: a probe cut short would report "timeout" for a
        // gateway that answers 500, and the reason is what the user acts on.
        const verdict = await knock.next(target);
        ctx.log.debug({ unit, ok: verdict.ok, reason: verdict.reason, latencyMs: verdict.latencyMs }, "health probe");
        if (verdict.ok) {
          // The state may be SAFETY_READ_MS old if a signal was missed: the answer must come from the same, running unit.
          state = await watch.fresh();
          if (!isRunning(state) || state.nRestarts !== baseline || state.mainPid !== pid) continue;
          // Looked at once the probe passes, not on every probe: it reads /proc.
          const held = await unitPortHolder(ctx, unit, target.port, pid);
          if (held.status === "own") return { profile, unit, state, probe: verdict, elapsedMs: Date.now() - started };
          if (held.status === "foreign") throw await failure(ctx, profile, `${heldText(target.port, held.holder, unit)}: the health answers came from it`, mark);
          lastReason = `health answered, but nothing listens on port ${target.port} now`;
        } else {
          lastReason = `health ${verdict.reason}`;
        }
      } else {
        lastReason = `${state.activeState}/${state.subState}`;
      }
      if (Date.now() >= deadline) {
        throw await fail(`not healthy within ${Math.round(opts.deadlineMs / 1000)} s (last seen: ${lastReason})`, state.mainPid);
      }
      // Probed on a pace while it runs; while it does not, nothing to do until the manager says it changed.
      state = await unlessAborted(watch.next(isRunning(state) ? (opts.pollMs ?? PROBE_EVERY_MS) : deadline - Date.now()), opts.signal, interrupted);
    }
  } finally {
    watch.close();
  }
}

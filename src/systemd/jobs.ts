/**
 * Job tracking, as systemd's bus-wait-for-jobs: a StartUnit (StopUnit, ...) reply only says a job was
 * queued, so the tracker waits for the job's JobRemoved and returns its result, all within the caller's
 * deadline: the subscription, the method call and the wait.
 */
import { JobTimeoutError, ManagerUnreachableError, SystemdError } from "../errors.js";
import { BusError } from "./bus-errors.js";
import { Deadline } from "./deadline.js";
import {
  ADD_MATCH_JOB_REMOVED, getPropertyCall, JOB_METHODS, MANAGER_IFACE, MANAGER_PATH, managerCall,
  type BusCaller, type JobVerb,
} from "./methods.js";
import type { JobOptions, JobResult } from "./types.js";

const KNOWN_JOB_RESULTS: ReadonlySet<string> = new Set<JobResult>([
  "done", "canceled", "timeout", "failed", "dependency", "skipped",
]);

const DEFAULT_JOB_TIMEOUT_MS = 60_000;

interface JobWaiter {
  resolve(result: JobResult): void;
  reject(err: Error): void;
}

/** Runs jobs over one connection; feed it the connection's JobRemoved signals (`jobRemoved`) and its loss (`fail`). */
export class JobTracker {
  private subscribed: Promise<void> | undefined;
  /** Several callers can wait on one path: systemd hands a second StartUnit the job already queued. */
  private readonly jobWaiters = new Map<string, Set<JobWaiter>>();
  /** JobRemoved results that arrived before the job's path was known to its caller. */
  private readonly earlyJobResults = new Map<string, string>();
  private jobCallsInFlight = 0;

  constructor(private readonly bus: BusCaller) {}

  /**
   * Calls the verb's Manager method on `unit` and waits for its job's result. Past `opts.timeoutMs`
   * (60 s), counted from this call, rejects with JobTimeoutError, whichever step it was at.
   */
  async run(verb: JobVerb, unit: string, opts: JobOptions = {}): Promise<JobResult> {
    const method = JOB_METHODS[verb];
    const timeoutMs = opts.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    let unfinished = "the subscription to job signals was not answered";
    const deadline = new Deadline(timeoutMs, () => new JobTimeoutError(
      `${method} ${unit}: ${unfinished} within ${timeoutMs} ms`,
      unit,
      timeoutMs,
      `see \`systemctl --user status ${unit}\``,
    ));
    try {
      await deadline.race(this.subscribe());
      unfinished = "the call was not answered";
      let jobPath: string;
      this.jobCallsInFlight++;
      try {
        const [path] = await deadline.race(this.bus.call(managerCall(method, [unit, opts.mode ?? "replace"], `${method} ${unit}`)));
        jobPath = path as string;
      } catch (err) {
        // Asked within the caller's deadline too: past it, the refusal is the best answer there is.
        throw await deadline.race(this.unlessShuttingDown(err)).catch(() => err);
      } finally {
        this.jobCallsInFlight--;
      }
      unfinished = `job ${jobPath} did not finish`;
      // No await between the reply and here: a JobRemoved parsed from the same socket read is already buffered.
      return await this.waitForJob(jobPath, deadline.signal);
    } finally {
      deadline.clear();
    }
  }

  /** A JobRemoved signal: resolves whoever waits on the job, or keeps its result for a caller still awaiting its reply. */
  jobRemoved(jobPath: string, result: string): void {
    const waiters = this.jobWaiters.get(jobPath);
    this.jobWaiters.delete(jobPath);
    for (const w of waiters ?? []) w.resolve(toJobResult(result));
    if (this.jobCallsInFlight > 0) this.earlyJobResults.set(jobPath, result);
  }

  /** The connection is gone: fails every wait with `err`, since no JobRemoved will come. */
  fail(err: Error): void {
    for (const waiters of this.jobWaiters.values()) for (const w of waiters) w.reject(err);
    this.jobWaiters.clear();
    this.earlyJobResults.clear();
  }

  /**
   * Subscribe once per connection (the manager refuses a second Subscribe), with the match rule in place
   * first, so no JobRemoved is lost. A watch of units adds its own match rules before it calls this.
   */
  subscribe(): Promise<void> {
    // Shared by every caller, so bounded by the connection's reply timeout, not by one caller's deadline.
    this.subscribed ??= (async () => {
      await this.bus.call(ADD_MATCH_JOB_REMOVED);
      await this.bus.call(managerCall("Subscribe", []));
    })().catch((err: unknown) => {
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  /**
   * A manager that is stopping refuses a job as "destructive" (its own stop jobs are queued): that is the
   * manager going away, not a fault of the unit. Otherwise `err` as it was.
   */
  private async unlessShuttingDown(err: unknown): Promise<unknown> {
    if (!(err instanceof SystemdError) || err.busName !== BusError.TransactionIsDestructive) return err;
    const state = await this.bus.call(getPropertyCall(MANAGER_PATH, MANAGER_IFACE, "SystemState", "Get SystemState"))
      .then(([v]) => (v as { value: unknown }).value as string, (e: unknown) => (e instanceof ManagerUnreachableError ? "stopping" : ""));
    return state === "stopping" ? new ManagerUnreachableError(this.bus.address, `${err.message} (the manager is shutting down)`) : err;
  }

  private waitForJob(jobPath: string, signal: AbortSignal): Promise<JobResult> {
    // Kept, not taken: another call still awaiting its reply may have been handed the same job.
    const early = this.earlyJobResults.get(jobPath);
    // Results of other clients' jobs are only worth keeping while one of our own job calls awaits its reply.
    if (this.jobCallsInFlight === 0) this.earlyJobResults.clear();
    if (early !== undefined) return Promise.resolve(toJobResult(early));
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<JobResult>((resolve, reject) => {
      const waiters = this.jobWaiters.get(jobPath) ?? new Set<JobWaiter>();
      this.jobWaiters.set(jobPath, waiters);
      const expire = (): void => {
        waiters.delete(waiter);
        if (waiters.size === 0) this.jobWaiters.delete(jobPath);
        reject(signal.reason as Error);
      };
      const waiter: JobWaiter = {
        resolve: (result) => {
          signal.removeEventListener("abort", expire);
          resolve(result);
        },
        reject: (err) => {
          signal.removeEventListener("abort", expire);
          reject(err);
        },
      };
      signal.addEventListener("abort", expire, { once: true });
      waiters.add(waiter);
    });
  }
}

/** systemd has results the contract leaves out (`assert`, `unsupported`, `collected`, `once`, ...): all are failures to start. */
function toJobResult(result: string): JobResult {
  return KNOWN_JOB_RESULTS.has(result) ? (result as JobResult) : "failed";
}

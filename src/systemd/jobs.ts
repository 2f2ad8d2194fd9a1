/**
 * Job tracking, as systemd's bus-wait-for-jobs: a StartUnit (StopUnit, ...) reply only says a job was
 * queued, so the tracker waits for the job's JobRemoved and returns its result.
 */
import { JobTimeoutError, ManagerUnreachableError, SystemdError } from "../errors.js";
import { BusError } from "./bus-errors.js";
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
   * (60 s), counted from this call, the wait rejects with JobTimeoutError.
   */
  async run(verb: JobVerb, unit: string, opts: JobOptions = {}): Promise<JobResult> {
    const method = JOB_METHODS[verb];
    const timeoutMs = opts.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    const started = Date.now();
    await this.subscribe();
    let jobPath: string;
    this.jobCallsInFlight++;
    try {
      const [path] = await this.bus.call(managerCall(method, [unit, opts.mode ?? "replace"], `${method} ${unit}`));
      jobPath = path as string;
    } catch (err) {
      throw await this.unlessShuttingDown(err);
    } finally {
      this.jobCallsInFlight--;
    }
    // No await between the reply and here: a JobRemoved parsed from the same socket read is already buffered.
    return this.waitForJob(jobPath, unit, method, Math.max(0, timeoutMs - (Date.now() - started)), timeoutMs);
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

  /** Subscribe once per connection, with the match rule in place first, so no JobRemoved is lost. */
  private subscribe(): Promise<void> {
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

  private waitForJob(jobPath: string, unit: string, method: string, remainingMs: number, timeoutMs: number): Promise<JobResult> {
    // Kept, not taken: another call still awaiting its reply may have been handed the same job.
    const early = this.earlyJobResults.get(jobPath);
    // Results of other clients' jobs are only worth keeping while one of our own job calls awaits its reply.
    if (this.jobCallsInFlight === 0) this.earlyJobResults.clear();
    if (early !== undefined) return Promise.resolve(toJobResult(early));
    return new Promise<JobResult>((resolve, reject) => {
      const waiters = this.jobWaiters.get(jobPath) ?? new Set<JobWaiter>();
      this.jobWaiters.set(jobPath, waiters);
      const waiter: JobWaiter = {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        if (waiters.size === 0) this.jobWaiters.delete(jobPath);
        reject(new JobTimeoutError(
          `${method} ${unit}: job ${jobPath} did not finish within ${timeoutMs} ms`,
          unit,
          timeoutMs,
          `see \`systemctl --user status ${unit}\``,
        ));
      }, remainingMs);
      waiters.add(waiter);
    });
  }
}

/** systemd has results the contract leaves out (`assert`, `unsupported`, `collected`, `once`, ...): all are failures to start. */
function toJobResult(result: string): JobResult {
  return KNOWN_JOB_RESULTS.has(result) ? (result as JobResult) : "failed";
}

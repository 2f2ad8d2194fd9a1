import { InterruptedError } from "../errors.js";

/**
 * Ctrl-C and SIGTERM as a request to stop at the next safe point, not at once: a roll between batches,
 * `verify` between checks (then its clean-up still runs). Only SIGKILL stops mid-step.
 */
export interface StopSignals {
  /** The signal caught, or null. */
  signal(): string | null;
  remove(): void;
}

/** Catch SIGINT and SIGTERM; `tell` says what happens now (`says.first`) and on a repeat (`says.again`). */
export function catchStopSignals(tell: (text: string) => void, says: { first: string; again: string }): StopSignals {
  let caught: string | null = null;
  const handler = (sig: NodeJS.Signals): void => {
    if (caught) return tell(`${sig}: ${says.again}`);
    caught = sig;
    tell(`${sig}: ${says.first}`);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: () => caught,
    remove() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

/**
 * Runs `body` (a verb's whole work: `start a b` is one body) with Ctrl-C and SIGTERM deferred: the first
 * one aborts the signal `body` is given, which its waits and the start of each profile's transaction
 * look at (a write under way is finished, never cut in two), and `tell` says so; a second one ends the
 * process at once, as the signal would have without us. A body that had nothing left to wait for ends as
 * it would have. Only the verbs a user waits on pass it down; a roll (`apply`'s too), a sweep and `verify`
 * stop on their own terms (catchStopSignals).
 */
export async function deferStopSignals<T>(tell: (text: string) => void, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (abort.signal.aborted) {
      remove();
      process.kill(process.pid, sig);
      return;
    }
    tell(`${sig}: stopping once the step under way is done (again: at once)`);
    abort.abort(sig);
  };
  const remove = (): void => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  try {
    return await body(abort.signal);
  } finally {
    remove();
  }
}

/**
 * Runs `work`, a putting back that a stop would leave half-done (import's undo: cut between its steps, a
 * profile runs on neither its old unit nor ours), with Ctrl-C and SIGTERM answered but not obeyed, a
 * second one too (deferStopSignals raises it again, and this listener takes it); `tell` says so once.
 * Only SIGKILL ends it.
 */
export async function unstoppable<T>(tell: (text: string) => void, what: string, work: () => Promise<T>): Promise<T> {
  let told = false;
  const handler = (sig: NodeJS.Signals): void => {
    if (!told) tell(`${sig}: ${what} first; a stop now would leave it half-done (SIGKILL stops it all the same)`);
    told = true;
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  try {
    return await work();
  } finally {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  }
}

/** An InterruptedError when a verb's deferred signal has been given: nothing of profile `name`'s is begun (`command` does it later). */
export function notStopped(signal: AbortSignal | undefined, name: string, command: string): void {
  if (!signal?.aborted) return;
  const sig = String(signal.reason);
  throw new InterruptedError(sig, `${name}: ${sig} came before anything was done to it`, `run \`${command}\``, true);
}

/**
 * A verb's steps (`apply`'s removals, changes and adds; `import`'s profiles), one at a time under its
 * deferred signal: a step begins only if the signal has not come, and the InterruptedError that ends them
 * says what was done before the step under way and what was not begun, with the verb's own next step
 * (after the step's own, such as `profiles status b` for a wait given up).
 */
export class Steps {
  private readonly done: string[] = [];
  private at = -1;

  /**
   * `planned`: every step in order, as the error lists one not begun (`add b`); `hint` makes the verb's
   * next step of `left`, the planned steps from the one under way on.
   */
  constructor(
    private readonly signal: AbortSignal,
    private readonly planned: string[],
    private readonly hint: (left: string[]) => string,
  ) {}

  /** The next planned step, of profile `name`: `work`, unless the signal came first; `did` says what it did (`added b`). */
  async next<T>(name: string, work: () => Promise<T>, did: (value: T) => string): Promise<T> {
    this.at++;
    try {
      notStopped(this.signal, name, "");
      const value = await work();
      this.done.push(did(value));
      return value;
    } catch (err) {
      if (!(err instanceof InterruptedError)) throw err;
      const next = this.hint(this.planned.slice(this.at));
      throw err.after(this.done, this.planned.slice(this.at + 1), err.untouched || !err.hint ? next : `${err.hint}; then ${next}`);
    }
  }
}

/** A wait for profile `name`'s stop job given up. */
export function stopWaitInterrupted(sig: string, name: string): InterruptedError {
  return new InterruptedError(sig, `${name}: ${sig} stopped the wait for its stop, which goes on in the manager`, `run \`profiles status ${name}\``);
}

/** `work`, unless `signal` aborts first: then the error `interrupted` makes of the signal's name. `work` may still settle later, unheard. */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, interrupted: (sig: string) => Error): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(interrupted(String(signal.reason)));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(interrupted(String(signal.reason)));
    signal.addEventListener("abort", onAbort, { once: true });
    const settled = (): void => signal.removeEventListener("abort", onAbort);
    work.then(
      (value) => (settled(), resolve(value)),
      (err: unknown) => (settled(), reject(err)),
    );
  });
}

/**
 * Set (to 1) by a fleet driver for the `profiles` it runs on a host: stop following (`logs -f`) when stdin
 * ends. sshd sends a command without a terminal no SIGHUP when its client goes; the end of stdin is the sign.
 */
export const STOP_ON_EOF = "AP_STOP_ON_EOF";

/** With STOP_ON_EOF set in `env`, `stop` runs when stdin ends; returns what undoes that. */
export function onStdinEnd(env: NodeJS.ProcessEnv, stop: () => void): () => void {
  if (env[STOP_ON_EOF] !== "1") return () => undefined;
  process.stdin.on("end", stop).on("error", stop).resume();
  return () => void process.stdin.off("end", stop).off("error", stop).pause();
}

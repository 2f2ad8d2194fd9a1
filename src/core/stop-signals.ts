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

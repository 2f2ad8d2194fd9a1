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

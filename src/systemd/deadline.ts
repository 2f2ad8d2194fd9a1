/** A deadline that several awaits share, as an AbortSignal. */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  /** Starts the clock: after `ms`, the signal aborts with the error `expired()` makes then. */
  constructor(ms: number, expired: () => Error) {
    this.timer = setTimeout(() => this.controller.abort(expired()), ms);
  }

  /** Aborts, with the deadline's error as its reason, once the deadline has passed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** `work`'s outcome, or the deadline's error if the deadline passes first; `work` is left to settle unheeded. */
  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<T>((resolve, reject) => {
      const expire = (): void => reject(signal.reason as Error);
      signal.addEventListener("abort", expire, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", expire));
    });
  }

  /** Stops the clock; the signal never aborts after this. */
  clear(): void {
    clearTimeout(this.timer);
  }
}

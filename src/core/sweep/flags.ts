/** `sweep`'s own flag checks (those it shares with `init --sweep-*` are settings: src/settings.ts). */
import { UsageError } from "../../errors.js";

/** `--max-restarts`: a whole number 0-100. */
export function parseMaxRestarts(raw: string): number {
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 100)) throw new UsageError(`--max-restarts "${raw}" must be a whole number from 0 to 100`);
  return n;
}

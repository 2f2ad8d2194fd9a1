/** Small checks of CLI values shared by several verbs; each throws a UsageError naming the rule. */
import { UsageError } from "../errors.js";

/** A generation number given by a user (`--to 3`, `diff liam 2 5`). */
export function parseGeneration(raw: unknown, profile: string, what = "generation"): number {
  const text = String(raw);
  if (/^[1-9]\d{0,8}$/.test(text)) return Number(text);
  throw new UsageError(`${what} "${text}" must be a generation number (1, 2, ...)`, `run \`profiles history ${profile}\` to see them`);
}

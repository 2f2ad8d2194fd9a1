/** Small checks of CLI values shared by several verbs; each throws a UsageError naming the rule. */
import { UsageError } from "../errors.js";

/**
 * argv with `--no-X VALUE` joined into `--no-X=VALUE` for the flags named `no-...` that take a value
 * (`--no-restart-on-exit 1`): the parser reads any other `--no-X` as "X is false".
 */
export function joinNoFlagValues(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return [...out, ...argv.slice(i)];
    if (flags.includes(a) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

/** A generation number given by a user (`--to 3`, `diff liam 2 5`). */
export function parseGeneration(raw: unknown, profile: string, what = "generation"): number {
  const text = String(raw);
  if (/^[1-9]\d{0,8}$/.test(text)) return Number(text);
  throw new UsageError(`${what} "${text}" must be a generation number (1, 2, ...)`, `run \`profiles history ${profile}\` to see them`);
}

/** Small checks of CLI values shared by several verbs; each throws a UsageError naming the rule. */
import { UsageError } from "../errors.js";
import { hideArguments } from "../redact.js";

/**
 * argv (already without `--`, see endOfOptions) with `--no-X VALUE` joined into `--no-X=VALUE` for the flags named `no-...` that take a value
 * (`--no-restart-on-exit 1`): the parser reads any other `--no-X` as "X is false".
 */
export function joinNoFlagValues(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flags.includes(a) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

/**
 * argv with the words after `--` as plain words: no verb hands words on to another program, so `--` only
 * ends the options (`roll -- zed` rolls zed). A word after it that starts with "-" would be read as a flag
 * once `--` is gone, and no profile name, KEY=VALUE, key or generation starts with "-": refused (exit 2).
 */
export function endOfOptions(argv: readonly string[]): string[] {
  const at = argv.indexOf("--");
  if (at < 0) return [...argv];
  const after = argv.slice(at + 1);
  const dashed = after.find((w) => w.startsWith("-"));
  if (dashed !== undefined) {
    const message = `"${dashed}" after "--" is not a profile name, KEY=VALUE, key or generation: none of them starts with "-"`;
    throw new UsageError(hideArguments(message, argv), "put options before `--`; run `profiles list` to see the profiles");
  }
  return [...argv.slice(0, at), ...after];
}

/**
 * The longest time a flag may give, in seconds: a day is far above any sensible wait or gate, low enough
 * that a typo such as 3e9 is caught, and within node's timers (2^31 ms; beyond, a timer fires at once).
 */
export const MAX_SECONDS = 86_400;

/** The option kinds yargs declared, as its `getOptions()` lists them. */
export interface DeclaredOptions {
  string: readonly string[];
  number: readonly string[];
  array: readonly string[];
  alias: Readonly<Record<string, readonly string[]>>;
}

/**
 * Refuse, in the words as given (before `--`), what yargs misreads for an option that takes a value:
 * `--no-X` (yargs makes it false, or 0 for a number), a second `--X` unless the option is repeatable
 * (an array, or for a number a sum: `--max-parallel 1 --max-parallel 1` was 2), and `--X --` (the first
 * word after `--` would be taken as its value). Each reached the verbs as something not given.
 */
export function assertOneValueEach(argv: readonly string[], declared: DeclaredOptions): void {
  const end = argv.indexOf("--");
  const words = end < 0 ? argv : argv.slice(0, end);
  const flag = (key: string): string => (key.length === 1 ? `-${key}` : `--${key}`);
  const beforeEnd = end > 0 ? argv[end - 1]! : "";
  for (const key of [...declared.string, ...declared.number]) {
    const names = new Set([key, key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()), ...(declared.alias[key] ?? [])]);
    let given = 0;
    for (const w of words) {
      if (!w.startsWith("-")) continue;
      const name = w.replace(/^--?/, "").split("=", 1)[0]!;
      if (names.has(name)) given++;
      else if (name.startsWith("no-") && names.has(name.slice(3))) throw new UsageError(`${w}: ${flag(key)} takes a value, and has no "no" form`, `leave ${flag(key)} out instead`);
    }
    if (given > 1 && !declared.array.includes(key)) throw new UsageError(`${flag(key)} is given ${given} times; it takes one value`);
    if (beforeEnd.startsWith("-") && !beforeEnd.includes("=") && names.has(beforeEnd.replace(/^--?/, ""))) {
      throw new UsageError(`${beforeEnd} needs its value before "--"`, `give it as ${flag(key)}=VALUE, or move "--" after its value`);
    }
  }
}

/** A generation number given by a user (`--to 3`, `diff liam 2 5`). */
export function parseGeneration(raw: unknown, profile: string, what = "generation"): number {
  const text = String(raw);
  if (/^[1-9]\d{0,8}$/.test(text)) return Number(text);
  throw new UsageError(`${what} "${text}" must be a generation number (1, 2, ...)`, `run \`profiles history ${profile}\` to see them`);
}

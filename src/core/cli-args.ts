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
}

/**
 * Refuse what yargs lets through for an option that takes a value: `--no-X` (yargs makes it `false`) and,
 * unless the option is repeatable, a second `--X` (yargs makes an array). Either reached the verbs as a
 * value of the wrong type: a stack trace, or two webhook URLs joined by a comma.
 */
export function assertOneValueEach(args: Readonly<Record<string, unknown>>, declared: DeclaredOptions): void {
  const flag = (key: string): string => (key.length === 1 ? `-${key}` : `--${key}`);
  for (const key of [...declared.string, ...declared.number]) {
    const value = args[key];
    if ((Array.isArray(value) ? value : [value]).some((v) => typeof v === "boolean")) {
      throw new UsageError(`--no-${key}: ${flag(key)} takes a value, and has no "no" form`, `leave ${flag(key)} out instead`);
    }
    if (Array.isArray(value) && !declared.array.includes(key)) throw new UsageError(`${flag(key)} is given ${value.length} times; it takes one value`);
  }
}

/** A generation number given by a user (`--to 3`, `diff liam 2 5`). */
export function parseGeneration(raw: unknown, profile: string, what = "generation"): number {
  const text = String(raw);
  if (/^[1-9]\d{0,8}$/.test(text)) return Number(text);
  throw new UsageError(`${what} "${text}" must be a generation number (1, 2, ...)`, `run \`profiles history ${profile}\` to see them`);
}

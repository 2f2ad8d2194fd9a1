import type { Argv } from "yargs";
import type { Context } from "../core/context.js";
import type { ExitCode } from "../errors.js";
import { assertProfileExists } from "../store/profiles.js";
import { EXAMPLES } from "./examples.js";
import type { OptionEntry } from "./options.js";

/** What a command computed: `data` is printed for --json, `text` for people. */
export interface CommandResult {
  data: unknown;
  text: string;
  /** Non-zero when the command ran but the outcome is a failure (e.g. a profile is not healthy). */
  exitCode?: ExitCode;
  /** `text` was escaped by its renderer, which adds control codes of its own (doctor's colours); else the CLI escapes it. */
  escaped?: boolean;
  /** Everything was printed as it came (`logs` of several profiles: one JSON object per line); no closing summary. */
  streamed?: boolean;
  /** The output holds secret values on purpose (`env --show-secrets`): it is printed without redaction. */
  secretsShown?: boolean;
}

/** Options every command accepts. */
export interface GlobalArgs {
  json: boolean;
  verbose: boolean;
}

/**
 * What a verb needs before it runs, checked by one prologue in this order: usage (exit 2: its options,
 * then its own `parse`), config.ini (8 missing, 12 bad), the profiles it names exist (3), the manager (10).
 */
export interface Needs {
  config: boolean;
  /** Which positional names profiles that must exist: `name`, `names`, or none (add checks the opposite). */
  profiles: "name" | "names" | "none";
  manager: boolean;
}

/** A verb as written: the shared options it takes, its own yargs shape, its needs, its checks and its work. */
export interface VerbSpec<A, P> {
  command: string | string[];
  describe: string;
  /** Shared options (options.ts), declared and checked before the verb's own. */
  options?: OptionEntry[];
  builder?: (y: Argv<any>) => Argv<any>;
  needs: Needs;
  /** The verb's own usage checks (exit 2), before anything is read. */
  parse?(args: A & GlobalArgs): P | Promise<P>;
  /** The verb's work, once the prologue passed: `parsed` is what `parse` returned; `ctx.config()` is loaded. */
  run(args: A & GlobalArgs, ctx: Context, parsed: P): Promise<CommandResult>;
}

/** One verb of the CLI: its yargs shape and the function that runs it against a Context. */
export interface CommandSpec<A = any> {
  command: string | string[];
  describe: string;
  needs: Needs;
  builder: (y: Argv<GlobalArgs>) => Argv<any>;
  run(args: A & GlobalArgs, ctx: Context): Promise<CommandResult>;
}

/** A verb's name: the first word of its (first) command. */
export function verbOf(command: string | readonly string[]): string {
  const first = typeof command === "string" ? command : (command[0] ?? "");
  return first.split(" ", 1)[0] ?? "";
}

/** The names a verb's `name`/`names` positional gave, as its needs say. */
function namedProfiles(needs: Needs, args: Record<string, unknown>): string[] {
  if (needs.profiles === "name") return args.name === undefined ? [] : [args.name as string];
  if (needs.profiles === "names") return (args.names as string[] | undefined) ?? [];
  return [];
}

/** A verb's CommandSpec: its options declared, and `run` behind the one prologue. */
export function defineCommand<A, P = undefined>(spec: VerbSpec<A, P>): CommandSpec<A> {
  const options = spec.options ?? [];
  return {
    command: spec.command,
    describe: spec.describe,
    needs: spec.needs,
    builder: (y) => {
      let out: Argv<any> = y;
      for (const o of options) out = o.declare(out);
      if (spec.builder) out = spec.builder(out);
      for (const [line, what] of EXAMPLES[verbOf(spec.command)] ?? []) out = out.example(line, what);
      return out;
    },
    async run(raw, ctx) {
      const args = { ...raw } as A & GlobalArgs & Record<string, unknown>;
      for (const o of options) args[o.key as keyof typeof args] = o.check(args[o.key]) as never;
      const parsed = (spec.parse ? await spec.parse(args) : undefined) as P;
      if (spec.needs.config) await ctx.config();
      for (const n of namedProfiles(spec.needs, args)) await assertProfileExists(ctx.paths, n);
      if (spec.needs.manager) await ctx.systemd();
      return spec.run(args, ctx, parsed);
    },
  };
}

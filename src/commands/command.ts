import type { Argv } from "yargs";
import type { Context } from "../core/context.js";
import type { ExitCode } from "../errors.js";

/** What a command computed: `data` is printed for --json, `text` for people. */
export interface CommandResult {
  data: unknown;
  text: string;
  /** Non-zero when the command ran but the outcome is a failure (e.g. a profile is not healthy). */
  exitCode?: ExitCode;
  /** `text` was escaped by its renderer, which adds control codes of its own (doctor's colours); else the CLI escapes it. */
  escaped?: boolean;
  /** The output holds secret values on purpose (`env --show-secrets`): it is printed without redaction. */
  secretsShown?: boolean;
}

/** Options every command accepts. */
export interface GlobalArgs {
  json: boolean;
  verbose: boolean;
}

/** One verb of the CLI: its yargs shape and the function that runs it against a Context. */
export interface CommandSpec<A = any> {
  command: string | string[];
  describe: string;
  builder: (y: Argv<GlobalArgs>) => Argv<any>;
  run(args: A & GlobalArgs, ctx: Context): Promise<CommandResult>;
}

/** Identity function that types a command module. */
export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

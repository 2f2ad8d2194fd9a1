/** The CLI's yargs parser: every verb of the table, the global options, and usage errors as UsageError (exit 2). */
import yargs, { type Argv } from "yargs";
import type { CommandSpec } from "./commands/command.js";
import { commands } from "./commands/index.js";
import { globalOptions } from "./commands/options.js";
import { completer } from "./completion.js";
import { assertOneValueEach, endOfOptions, joinNoFlagValues, type DeclaredOptions } from "./core/cli-args.js";
import { POLICY_FLAGS } from "./core/restart-policy.js";
import { UsageError } from "./errors.js";
import { packageVersion } from "./package-files.js";
import { hideArguments } from "./redact.js";

/** The parser of `argv`; `handle` gets the verb and its parsed arguments (tests record them instead of running). */
export function cliParser(argv: string[], handle: (spec: CommandSpec, args: Record<string, unknown>) => Promise<void>): Argv {
  const parser = yargs(parserWords(argv))
    .scriptName("profiles")
    .usage("$0 <command> [options]\n\nRun many profiles of one agent gateway as systemd user units.")
    .options(globalOptions)
    .strict()
    .demandCommand(1, "give a command; `profiles --help` lists them")
    .recommendCommands()
    .completion("completion", "Print a completion script for bash (zsh when $SHELL is zsh) that also completes profile names", completer(commands))
    .help()
    .alias("help", "h")
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    // After yargs' own checks, before any verb runs: the options as each verb declared them.
    .middleware(((_args: unknown, y: { getOptions(): DeclaredOptions }) => assertOneValueEach(argv, y.getOptions())) as never, false)
    .fail((msg, err) => {
      // yargs' own validation (e.g. "Not enough arguments following: host") comes as a YError: bad input too.
      if (err && err.name !== "YError") throw err;
      throw new UsageError(hideArguments(plainer(msg ?? err?.message ?? "bad arguments"), argv), "see `profiles --help`");
    });
  for (const spec of commands) parser.command(spec.command, spec.describe, spec.builder, (args) => handle(spec, args));
  return parser;
}

/**
 * Parse `argv` and run the verb it names; what yargs would print itself (--help, --version, a completion
 * script) goes to `print` instead, which writes it as the verbs' results are written (a refused write is 15).
 */
export async function parseAndRun(argv: string[], handle: (spec: CommandSpec, args: Record<string, unknown>) => Promise<void>, print: (output: string) => void): Promise<void> {
  const parser = cliParser(argv, handle);
  // A shell's completions (yargs logs them after a nested parse, which the callback does not see) print as before.
  if (argv.includes("--get-yargs-completions")) await parser.parseAsync();
  else await parser.parseAsync(parserWords(argv), {}, (_err, _args, output) => print(output));
}

function parserWords(argv: string[]): string[] {
  // A shell completing `roll --` or `roll -- -` asks for words, not for a usage error.
  if (argv.includes("--get-yargs-completions")) return argv;
  return joinNoFlagValues(endOfOptions(argv), POLICY_FLAGS.filter((f) => f.flag.startsWith("--no-")).map((f) => f.flag));
}

/** yargs' messages that do not say what to do, said so that they do. */
function plainer(message: string): string {
  // `--host -oX`: yargs reads `-oX` as options of its own and leaves --host without its value.
  // (--host is the one option that takes exactly one value, so the one that yargs says this of.)
  if (message === "Not enough arguments following: host") return '--host needs a host: [USER@]HOST[:PORT], a,b or @group (a host never starts with "-")';
  return message;
}

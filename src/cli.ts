#!/usr/bin/env -S node --max-semi-space-size=2
// A young generation of 2 MiB instead of node's default (16): a command lives for well under a second, and
// `profiles list` of 200 profiles peaked at ~81 MiB instead of ~71 MiB, in the same time (BENCHMARKS.md).
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { commands } from "./commands/index.js";
import { completer } from "./completion.js";
import type { CommandResult } from "./commands/command.js";
import { createContext, type Context } from "./core/context.js";
import { AppError, ExitCode, UsageError } from "./errors.js";
import { packageVersion } from "./package-files.js";
import { escapeControls, escapeLines } from "./render/escape.js";

/** Render an error for people (stderr) and, with --json, as JSON on stdout. */
function report(err: unknown, json: boolean): number {
  const known = err instanceof AppError ? err : null;
  const code = known?.exitCode ?? ExitCode.internal;
  const message = known ? known.message : `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const details = known && "details" in known && Array.isArray(known.details) ? (known.details as string[]) : [];
  if (json) {
    process.stdout.write(JSON.stringify({ error: { code, type: known?.name ?? "InternalError", message, details, hint: known?.hint ?? null } }, null, 2) + "\n");
  }
  // Messages can quote a file's bytes and details are the gateway's log lines: no control codes reach the terminal.
  let text = `profiles: ${escapeLines(message)}\n`;
  for (const d of details) text += `  | ${escapeControls(d)}\n`;
  if (known?.hint) text += `  next: ${escapeLines(known.hint)}\n`;
  process.stderr.write(text);
  return code;
}

/** Parse argv, run one command, print its result; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let result: CommandResult | undefined;
  let ctx: Context | undefined;
  // Errors can come before yargs has parsed anything, so --json is also looked for by hand.
  let json = argv.includes("--json");
  const parser = yargs(argv)
    .scriptName("profiles")
    .usage("$0 <command> [options]\n\nRun many profiles of one agent gateway as systemd user units.")
    .option("json", { type: "boolean", default: false, describe: "Print the result as JSON on stdout" })
    .option("verbose", { type: "boolean", default: false, describe: "Log details on stderr" })
    .strict()
    .demandCommand(1, "give a command; `profiles --help` lists them")
    .recommendCommands()
    .completion("completion", "Print a completion script for bash (zsh when $SHELL is zsh) that also completes profile names", completer(commands))
    .help()
    .alias("help", "h")
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg, "see `profiles --help`");
    });
  for (const spec of commands) {
    parser.command(spec.command, spec.describe, spec.builder, async (args) => {
      json = Boolean(args.json);
      ctx = createContext({ json, verbose: Boolean(args.verbose) });
      result = await spec.run(args as never, ctx);
    });
  }
  try {
    await parser.parseAsync();
  } catch (err) {
    await ctx?.close().catch(() => {});
    return report(err, json);
  }
  await ctx?.close().catch(() => {});
  if (!result) return ExitCode.ok; // --help or --version printed
  const text = result.escaped ? result.text : escapeLines(result.text);
  process.stdout.write(json ? JSON.stringify(result.data, null, 2) + "\n" : text ? text + "\n" : "");
  return result.exitCode ?? ExitCode.ok;
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`profiles: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(ExitCode.internal);
  },
);

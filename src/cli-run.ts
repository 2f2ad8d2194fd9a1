/**
 * One run of the CLI, whichever bundle parses its words: the checks before any verb, the verb's prologue
 * and work against a real Context, and how its result or error is printed (redacted) and exited with.
 * `cli.ts` (yargs, every verb) and `cli-fast.ts` (the few invocations it knows word for word) both end here.
 */
import type { CommandResult, CommandSpec, GlobalArgs } from "./commands/command.js";
import { createContext, type Context } from "./core/context.js";
import { learnSecrets } from "./core/known-secrets.js";
import { AppError, ExitCode, OutputError, UsageError, VersionMismatchError, fileSystemFault } from "./errors.js";
import { packageVersion } from "./package-files.js";
import { argsNotUtf8 } from "./processes/cmdline.js";
import { peopleText, redactJson, redactText } from "./redact.js";
import { escapeControls, escapeLines } from "./render/escape.js";
import { printOutput } from "./render/stdout.js";

/** Render an error for people (stderr) and, with --json, as JSON on stdout; both redacted. */
async function report(err: unknown, json: boolean): Promise<number> {
  // A full disk, a read-only mount or a permission problem is the host's state, not a bug: its own exit code, no stack.
  const known = err instanceof AppError ? err : fileSystemFault(err);
  const code = known?.exitCode ?? ExitCode.internal;
  const message = known ? known.message : `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const details = known && "details" in known && Array.isArray(known.details) ? (known.details as string[]) : [];
  // Messages can quote a file's bytes and details are the gateway's log lines: no control codes reach the terminal.
  let text = `profiles: ${peopleText(message)}\n`;
  for (const d of details) text += `  | ${escapeControls(redactText(d))}\n`;
  if (known?.hint) text += `  next: ${peopleText(known.hint)}\n`;
  process.stderr.write(text);
  // The JSON too, unless stdout is what failed. Refused (a full disk), that is said on stderr after the
  // error, whose exit code stays: a script tests it first.
  if (json && !(known instanceof OutputError)) {
    const ranToEnd = false;
    await printOutput(redactJson({ error: { code, type: known?.name ?? "InternalError", message, details, hint: known?.hint ?? null } }, 2) + "\n", ranToEnd);
  }
  return code;
}

/**
 * Refused, not kept: systemd's EnvironmentFile= loader refuses a value that is not UTF-8 (and the unit
 * with it), so such bytes could only be written into a `.env` that no longer starts. The argument is not
 * echoed (it may be a secret); a `KEY=` prefix, which is ASCII, is named.
 */
function notUtf8Error(arg: string, index: number): UsageError {
  const key = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(arg)?.[1];
  const what = key ? `the value of ${key}` : `argument ${index + 1}`;
  return new UsageError(
    `${what} is not valid UTF-8: systemd refuses such a value in an EnvironmentFile= (the unit would not start), so nothing was changed`,
    "give it as UTF-8 text; bytes in another encoding cannot be set through profiles",
  );
}

/** What one run got to: the context it opened (closed at the end) and the verb's result. */
export interface Run {
  json: boolean;
  ctx?: Context;
  result?: CommandResult;
  /** What the parser printed itself instead of running a verb (--help, --version, a completion script). */
  parserOutput?: string;
}

/** Open the context for parsed `args`; a verb over --host goes on from here, every other one calls `runVerb`. */
export function openContext(run: Run, args: GlobalArgs): Context {
  run.json = Boolean(args.json);
  run.ctx = createContext({ json: run.json, verbose: Boolean(args.verbose) });
  return run.ctx;
}

/** Run verb `spec` with its parsed `args` on this host. */
export async function runVerb(run: Run, spec: CommandSpec, args: GlobalArgs & Record<string, unknown>): Promise<void> {
  const ctx = run.ctx ?? openContext(run, args);
  // Before the command prints its first line: what the redaction of every output must know.
  await learnSecrets(ctx);
  run.result = await spec.run(args as never, ctx);
}

/** Check argv, let `dispatch` parse it and run a verb, print the result; returns the exit code. */
export async function runCli(argv: string[], dispatch: (run: Run) => Promise<void>): Promise<number> {
  // Errors can come before anything has parsed the words, so --json is also looked for by hand.
  const run: Run = { json: jsonAsked(argv) };
  const notUtf8 = argsNotUtf8(argv);
  if (notUtf8.length > 0) return report(notUtf8Error(argv[notUtf8[0]!]!, notUtf8[0]!), run.json);
  // Asked by a driving `profiles --host`: a host of another version refuses before doing anything.
  const wanted = process.env.AP_FLEET_VERSION;
  if (wanted) {
    const have = packageVersion();
    if (wanted !== have) return report(new VersionMismatchError(wanted, have), run.json);
  }
  try {
    await dispatch(run);
  } catch (err) {
    await run.ctx?.close().catch(() => {});
    return report(err, run.json);
  }
  await run.ctx?.close().catch(() => {});
  const result = run.result;
  if (!result) return written(run.parserOutput ? run.parserOutput + "\n" : "", ExitCode.ok);
  if (result.streamed) return result.exitCode ?? ExitCode.ok;
  // Only `env --show-secrets` prints secrets, because it was asked to.
  const redact = result.secretsShown ? (t: string) => t : redactText;
  const text = redact(result.escaped ? result.text : escapeLines(result.text));
  const data = result.secretsShown ? JSON.stringify(result.data, null, 2) : redactJson(result.data, 2);
  return written(run.json ? data + "\n" : text ? text + "\n" : "", result.exitCode ?? ExitCode.ok);
}

/** `code` once `text` is on stdout; the OutputError's (15) when stdout refused it. */
async function written(text: string, code: number): Promise<number> {
  return (await printOutput(text)) ?? code;
}

/** The process's one exit: with the run's code, or 70 and the (redacted) stack of what escaped it. */
export function exitWith(code: Promise<number>): void {
  code.then(
    (c) => process.exit(c),
    (err) => {
      process.stderr.write(`profiles: internal error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
      process.exit(ExitCode.internal);
    },
  );
}

/** Whether the words ask for --json, as the parser will read them: the last of --json [true|false], --json=… and --no-json, before `--`. */
function jsonAsked(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  let json = false;
  const words = end < 0 ? argv : argv.slice(0, end);
  words.forEach((w, i) => {
    // yargs takes a boolean's next word when it is true or false: `--json false`.
    if (w === "--json") json = words[i + 1] !== "false";
    else if (w === "--json=true") json = true;
    else if (w === "--no-json" || w === "--json=false") json = false;
  });
  return json;
}

// The CLI's entry, bundled as dist/src/cli-main.cjs and run by src/cli-loader.ts (dist/src/cli.js).
import { hideBin } from "yargs/helpers";
import { cliParser } from "./cli-parser.js";
import { verbOf, type CommandResult } from "./commands/command.js";
import { createContext, type Context } from "./core/context.js";
import { learnSecrets } from "./core/known-secrets.js";
import { AppError, ExitCode, UsageError, VersionMismatchError, fileSystemFault } from "./errors.js";
import { fleetHosts } from "./fleet/choose.js";
import { packageVersion } from "./package-files.js";
import { argsNotUtf8 } from "./processes/cmdline.js";
import { peopleText, redactJson, redactText } from "./redact.js";
import { escapeControls, escapeLines } from "./render/escape.js";

/** Render an error for people (stderr) and, with --json, as JSON on stdout; both redacted. */
function report(err: unknown, json: boolean): number {
  // A full disk, a read-only mount or a permission problem is the host's state, not a bug: its own exit code, no stack.
  const known = err instanceof AppError ? err : fileSystemFault(err);
  const code = known?.exitCode ?? ExitCode.internal;
  const message = known ? known.message : `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const details = known && "details" in known && Array.isArray(known.details) ? (known.details as string[]) : [];
  if (json) {
    process.stdout.write(redactJson({ error: { code, type: known?.name ?? "InternalError", message, details, hint: known?.hint ?? null } }, 2) + "\n");
  }
  // Messages can quote a file's bytes and details are the gateway's log lines: no control codes reach the terminal.
  let text = `profiles: ${peopleText(message)}\n`;
  for (const d of details) text += `  | ${escapeControls(redactText(d))}\n`;
  if (known?.hint) text += `  next: ${peopleText(known.hint)}\n`;
  process.stderr.write(text);
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

/** Parse argv, run one command, print its result; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let result: CommandResult | undefined;
  let ctx: Context | undefined;
  // Errors can come before yargs has parsed anything, so --json is also looked for by hand.
  let json = argv.includes("--json");
  const notUtf8 = argsNotUtf8(argv);
  if (notUtf8.length > 0) return report(notUtf8Error(argv[notUtf8[0]!]!, notUtf8[0]!), json);
  // Asked by a driving `profiles --host`: a host of another version refuses before doing anything.
  const wanted = process.env.AP_FLEET_VERSION;
  if (wanted) {
    const have = packageVersion();
    if (wanted !== have) return report(new VersionMismatchError(wanted, have), json);
  }
  const parser = cliParser(argv, async (spec, args) => {
    json = Boolean(args.json);
    ctx = createContext({ json, verbose: Boolean(args.verbose) });
    const hosts = fleetHosts(args);
    if (hosts) {
      const { realFleet, runOnHosts } = await import("./fleet/run.js");
      result = await runOnHosts(realFleet(ctx, json), verbOf(spec.command), argv, hosts, args);
      return;
    }
    // Before the command prints its first line: what the redaction of every output must know.
    await learnSecrets(ctx);
    result = await spec.run(args as never, ctx);
  });
  try {
    await parser.parseAsync();
  } catch (err) {
    await ctx?.close().catch(() => {});
    return report(err, json);
  }
  await ctx?.close().catch(() => {});
  if (!result) return ExitCode.ok; // --help or --version printed
  if (result.streamed) return result.exitCode ?? ExitCode.ok;
  // Only `env --show-secrets` prints secrets, because it was asked to.
  const redact = result.secretsShown ? (t: string) => t : redactText;
  const text = redact(result.escaped ? result.text : escapeLines(result.text));
  const data = result.secretsShown ? JSON.stringify(result.data, null, 2) : redactJson(result.data, 2);
  process.stdout.write(json ? data + "\n" : text ? text + "\n" : "");
  return result.exitCode ?? ExitCode.ok;
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`profiles: internal error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(ExitCode.internal);
  },
);

import { once } from "node:events";
import type { Config } from "../config.js";
import type { Context } from "../core/context.js";
import { learnPastSecrets } from "../core/known-secrets.js";
import { DEFAULT_LINES, chooseSource, noLogFileYet, parseLineCount } from "../core/logs/source.js";
import { tailFile } from "../core/logs/tail-file.js";
import { followFile } from "../core/logs/follow.js";
import { findJournal, showJournal } from "../core/logs/journal.js";
import { lineStream, type LineStream } from "../core/logs/lines.js";
import { rotateLogs, type RotateOutcome } from "../core/logs/rotate.js";
import { parseSince, showMergedFiles, showMergedJournal } from "../core/logs/merged.js";
import { onStdinEnd } from "../core/stop-signals.js";
import { ExitCode, NothingToShowError, type OutputError } from "../errors.js";
import { listProfiles } from "../store/profiles.js";
import { peopleText } from "../redact.js";
import { outputLost } from "../render/stdout.js";
import { defineCommand } from "./command.js";
import { names as namesOption } from "./options.js";

interface LogsArgs {
  names?: string[];
  follow: boolean;
  lines: string;
  rotate: boolean;
  since?: string;
}

/**
 * Until SIGINT or SIGTERM, a reader that went away, or (following, run by a fleet driver) the end of stdin:
 * then the command resolves, and cli.ts exits 0.
 */
function untilStopped(env: NodeJS.ProcessEnv, follow: boolean): { signal: AbortSignal; stoppedBy(): string | null; throwIfLost(): void; dispose(): void } {
  const controller = new AbortController();
  let by: string | null = null;
  let lost: OutputError | null = null;
  const onSignal = (sig: NodeJS.Signals | "EOF"): void => {
    by ??= sig;
    controller.abort();
  };
  // `profiles logs -f NAME | head` closes our stdout: stop following instead of crashing on EPIPE. Any
  // other error (`> FILE` on a full disk) lost the lines: the command stops too, but says so (exit 15).
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    lost ??= outputLost(err, false);
    onSignal("SIGPIPE");
  });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Not following, it ends on its own; a stdin that is empty from the start (cron, ssh -n) must not cut it short.
  const offStdin = follow ? onStdinEnd(env, () => onSignal("EOF")) : () => undefined;
  return {
    signal: controller.signal,
    stoppedBy: () => by,
    throwIfLost() {
      if (lost) throw lost;
    },
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      offStdin();
    },
  };
}

/** Stdout, waiting when it is full. */
async function out(s: string): Promise<void> {
  if (s === "" || process.stdout.destroyed) return;
  if (!process.stdout.write(s)) await once(process.stdout, "drain").catch(() => {});
}

/** Once what `out` queued is written: the result printed after it goes to fd 1 directly (writeOutput), ahead of a queue. */
async function flushed(): Promise<void> {
  if (process.stdout.writableLength > 0 && !process.stdout.destroyed) await once(process.stdout, "drain").catch(() => {});
}

/** Streams the gateway's output to stdout line by line, redacted, control codes escaped. */
function stdoutWriter(): LineStream {
  return lineStream((line) => peopleText(line) + "\n", out);
}

/** The lines `logs` shows without -f; followed output goes to stdout as it comes, not through a result. */
export interface LogsResult {
  name: string;
  source: "file";
  file: string;
  lines: string[];
}

/** `logs --rotate`: what was done to each profile's log file. */
export interface RotateResult {
  rotated: RotateOutcome[];
}

/** `logs --rotate`'s text for people: one line per file. */
export function renderRotate(r: RotateResult): string {
  if (r.rotated.length === 0) return "no log dir is configured: there are no log files to rotate";
  return r.rotated
    .map((o) => (o.rotated ? `${o.name}: ${o.bytes} bytes moved to ${o.file}.1${o.frozen ? "" : " (the gateway could not be paused: a line written in that instant may be lost)"}` : `${o.name}: ${o.file} is empty or missing, nothing to rotate`))
    .join("\n");
}

/** `logs`' text for people: the lines as the gateway wrote them. */
export function renderLogs(r: LogsResult): string {
  return r.lines.join("\n");
}

/** Several profiles (or --since, or one profile's log file with --json): their lines in one stream, each with its profile's name. */
async function merged(ctx: Context, config: Config, names: string[], lines: number, since: Date | null, follow: boolean) {
  for (const n of names) learnPastSecrets(ctx.paths, n);
  const journalctl = config.logDir ? null : await findJournal(ctx.env);
  // Neither a log dir nor journald: the same error (and fix) as for one profile.
  if (!config.logDir && journalctl === null) chooseSource(config, ctx.paths, names[0]!, null);
  const stop = untilStopped(ctx.env, follow);
  const colour = Boolean(process.stdout.isTTY) && !ctx.env.NO_COLOR;
  const o = { names, lines, follow, since, json: ctx.json, colour, signal: stop.signal, out };
  try {
    const code = journalctl ? await showMergedJournal(ctx, journalctl, o) : (await showMergedFiles(ctx, config, o), 0);
    stop.throwIfLost();
    const stoppedBy = stop.stoppedBy();
    const data = { names, source: journalctl ? "journal" : "file", followed: follow, stoppedBy };
    return { data, text: "", streamed: true, exitCode: code === 0 || stoppedBy ? ExitCode.ok : ExitCode.failed };
  } finally {
    stop.dispose();
  }
}

export default defineCommand<LogsArgs, { lines: number; since: Date | null }>({
  command: "logs [names..]",
  describe: "Show a profile's own output: its log file (init --log-dir) or, with journald, the journal; -f follows it; --rotate rotates log files",
  options: [namesOption()],
  needs: { config: true, profiles: "names", manager: false },
  builder: (y) =>
    y
      .option("lines", { alias: "n", type: "string", default: String(DEFAULT_LINES), describe: "How many of the last lines to show" })
      .option("follow", { alias: "f", type: "boolean", default: false, describe: "Keep showing new output until Ctrl-C (exit 0)" })
      .option("since", { type: "string", describe: "Only lines from this time on: 10m, 2h, 1d ago, or a date and time (the journal only)" })
      .option("rotate", { type: "boolean", default: false, describe: "Rotate the log files (init --log-dir) of these profiles (default: all) now, whatever their size" }),
  parse: (args) => ({ lines: parseLineCount(args.lines), since: args.since === undefined ? null : parseSince(args.since) }),
  async run(args, ctx, { lines, since }) {
    const config = await ctx.config();
    if (args.rotate) {
      const names = args.names?.length ? args.names : await listProfiles(ctx.paths);
      const data: RotateResult = { rotated: await rotateLogs(ctx, config, names, true, "profiles logs --rotate") };
      return { data, text: renderRotate(data) };
    }
    if (args.names?.length !== 1 || since) {
      const names = args.names?.length ? args.names : await listProfiles(ctx.paths);
      if (names.length === 0) throw new NothingToShowError("there are no profiles yet", "run `profiles add NAME`");
      return merged(ctx, config, names, lines, since, args.follow);
    }
    const name = args.names[0]!;
    // The output spans earlier runs, which may echo a token the .env has since replaced.
    learnPastSecrets(ctx.paths, name);
    const source = chooseSource(config, ctx.paths, name, config.logDir ? null : await findJournal(ctx.env));

    if (source.kind === "journal") {
      const stop = untilStopped(ctx.env, args.follow);
      try {
        const code = await showJournal(ctx, name, source, lines, args.follow, stop.signal, out);
        await flushed();
        stop.throwIfLost();
        const stoppedBy = stop.stoppedBy();
        // --json: the lines were the output, one object each, as for several profiles.
        return { data: { name, source: "journal", unit: source.unit, followed: args.follow, stoppedBy }, text: "", streamed: ctx.json, exitCode: code === 0 || stoppedBy ? ExitCode.ok : ExitCode.failed };
      } finally {
        stop.dispose();
      }
    }

    const tail = await tailFile(source.file, lines);
    if (!args.follow && !tail) throw noLogFileYet(name, source.file);
    // --json: one object a line and nothing else, the same for one profile as for several (and the journal).
    if (ctx.json) return merged(ctx, config, [name], lines, null, args.follow);
    if (tail && !args.follow) {
      if (tail.lines.length === 0) ctx.progress(`${source.file} is empty: ${name} has printed nothing yet`);
      const data: LogsResult = { name, source: "file", file: source.file, lines: tail.lines };
      return { data, text: renderLogs(data) };
    }

    const write = stdoutWriter();
    const stop = untilStopped(ctx.env, true);
    try {
      if (tail) await write.write(tail.lines.join("\n") + (tail.lines.length > 0 && tail.endsWithNewline ? "\n" : ""));
      else ctx.progress(`waiting for ${source.file}: it appears when ${name} starts`);
      await followFile(source.file, { from: tail, write: (text) => write.write(text), notice: (m) => ctx.progress(m), signal: stop.signal });
      await write.end();
      await flushed();
      stop.throwIfLost();
    } finally {
      stop.dispose();
    }
    return { data: { name, source: "file", file: source.file, followed: true, stoppedBy: stop.stoppedBy() }, text: "" };
  },
});

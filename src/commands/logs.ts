import { once } from "node:events";
import { learnPastSecrets } from "../core/known-secrets.js";
import { DEFAULT_LINES, chooseSource, noLogFileYet, parseLineCount } from "../core/logs/source.js";
import { tailFile } from "../core/logs/tail-file.js";
import { followFile } from "../core/logs/follow.js";
import { findJournal, showJournal } from "../core/logs/journal.js";
import { lineStream, type LineStream } from "../core/logs/lines.js";
import { ExitCode } from "../errors.js";
import { peopleText, redactJson } from "../redact.js";
import { defineCommand } from "./command.js";
import { name as nameOption, NAME_WITH_RULE } from "./options.js";

interface LogsArgs {
  name: string;
  follow: boolean;
  lines: string;
}

/** Until SIGINT or SIGTERM (or a reader that went away): then the command resolves, and cli.ts exits 0. */
function untilStopped(): { signal: AbortSignal; stoppedBy(): string | null; dispose(): void } {
  const controller = new AbortController();
  let by: string | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    by ??= sig;
    controller.abort();
  };
  // `profiles logs -f NAME | head` closes our stdout: stop following instead of crashing on EPIPE.
  process.stdout.on("error", () => onSignal("SIGPIPE"));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    stoppedBy: () => by,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Stdout, waiting when it is full. */
async function out(s: string): Promise<void> {
  if (s === "" || process.stdout.destroyed) return;
  if (!process.stdout.write(s)) await once(process.stdout, "drain").catch(() => {});
}

/**
 * Streams the gateway's output to stdout line by line, redacted; with --json, one `{"name","line"}` object
 * per line. A terminal gets control codes escaped, JSON the exact lines (but for what redaction masks).
 */
function stdoutWriter(json: boolean, name: string): LineStream {
  return lineStream(json ? (line) => redactJson({ name, line }) + "\n" : (line) => peopleText(line) + "\n", out);
}

/** The lines `logs` shows without -f; followed output goes to stdout as it comes, not through a result. */
export interface LogsResult {
  name: string;
  source: "file";
  file: string;
  lines: string[];
}

/** `logs`' text for people: the lines as the gateway wrote them. */
export function renderLogs(r: LogsResult): string {
  return r.lines.join("\n");
}

export default defineCommand<LogsArgs, number>({
  command: "logs <name>",
  describe: "Show a profile's own output: its log file (init --log-dir) or, with journald, the journal; -f follows it",
  options: [nameOption(NAME_WITH_RULE)],
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .option("lines", { alias: "n", type: "string", default: String(DEFAULT_LINES), describe: "How many of the last lines to show" })
      .option("follow", { alias: "f", type: "boolean", default: false, describe: "Keep showing new output until Ctrl-C (exit 0)" })
      .example("$0 logs liam", `the last ${DEFAULT_LINES} lines`)
      .example("$0 logs liam -f -n 5", "the last 5 lines, then new ones as they come")
      .example("$0 logs liam --json", "the lines as a JSON array; with -f, one JSON object per line"),
  parse: (args) => parseLineCount(args.lines),
  async run(args, ctx, lines) {
    const name = args.name;
    const config = await ctx.config();
    // The output spans earlier runs, which may echo a token the .env has since replaced.
    learnPastSecrets(ctx.paths, name);
    const source = chooseSource(config, ctx.paths, name, config.logDir ? null : await findJournal(ctx.env));

    if (source.kind === "journal") {
      const stop = untilStopped();
      try {
        const code = await showJournal(ctx, name, source, lines, args.follow, stop.signal, out);
        const stoppedBy = stop.stoppedBy();
        return { data: { name, source: "journal", unit: source.unit, followed: args.follow, stoppedBy }, text: "", exitCode: code === 0 || stoppedBy ? ExitCode.ok : ExitCode.failed };
      } finally {
        stop.dispose();
      }
    }

    const tail = await tailFile(source.file, lines);
    if (!args.follow) {
      if (!tail) throw noLogFileYet(name, source.file);
      if (tail.lines.length === 0) ctx.progress(`${source.file} is empty: ${name} has printed nothing yet`);
      const data: LogsResult = { name, source: "file", file: source.file, lines: tail.lines };
      return { data, text: renderLogs(data) };
    }

    const write = stdoutWriter(ctx.json, name);
    const stop = untilStopped();
    try {
      if (tail) await write.write(tail.lines.join("\n") + (tail.lines.length > 0 && tail.endsWithNewline ? "\n" : ""));
      else ctx.progress(`waiting for ${source.file}: it appears when ${name} starts`);
      await followFile(source.file, { from: tail, write: (text) => write.write(text), notice: (m) => ctx.progress(m), signal: stop.signal });
      await write.end();
    } finally {
      stop.dispose();
    }
    return { data: { name, source: "file", file: source.file, followed: true, stoppedBy: stop.stoppedBy() }, text: "" };
  },
});

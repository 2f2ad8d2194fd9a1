import { once } from "node:events";
import { DEFAULT_LINES, chooseSource, noLogFileYet, parseLineCount, tailFile } from "../core/logs.js";
import { followFile } from "../core/logs/follow.js";
import { findJournal, showJournal } from "../core/logs/journal.js";
import { ExitCode } from "../errors.js";
import { escapeLines } from "../render/escape.js";
import { assertProfileName, NAME_RULE } from "../store/names.js";
import { assertProfileExists } from "../store/profiles.js";
import { defineCommand } from "./command.js";

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

/** Streams text to stdout as it comes; with --json, one `{"name","line"}` object per complete line. */
function stdoutWriter(json: boolean, name: string): (text: string) => Promise<void> {
  let partial = "";
  const out = async (s: string): Promise<void> => {
    if (s === "" || process.stdout.destroyed) return;
    if (!process.stdout.write(s)) await once(process.stdout, "drain").catch(() => {});
  };
  // The gateway's own bytes: a terminal gets its control codes escaped, JSON the exact lines.
  if (!json) return (text) => out(escapeLines(text));
  return async (text) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    await out(lines.map((line) => JSON.stringify({ name, line }) + "\n").join(""));
  };
}

export default defineCommand<LogsArgs>({
  command: "logs <name>",
  describe: "Show a profile's own output: its log file (init --log-dir) or, with journald, the journal; -f follows it",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: `Profile name: ${NAME_RULE}` })
      .option("lines", { alias: "n", type: "string", default: String(DEFAULT_LINES), describe: "How many of the last lines to show" })
      .option("follow", { alias: "f", type: "boolean", default: false, describe: "Keep showing new output until Ctrl-C (exit 0)" })
      .example("$0 logs liam", `the last ${DEFAULT_LINES} lines`)
      .example("$0 logs liam -f -n 5", "the last 5 lines, then new ones as they come")
      .example("$0 logs liam --json", "the lines as a JSON array; with -f, one JSON object per line"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    const lines = parseLineCount(args.lines);
    await assertProfileExists(ctx.paths, name);
    const config = await ctx.config();
    const source = chooseSource(config, ctx.paths, name, config.logDir ? null : await findJournal(ctx.env));

    if (source.kind === "journal") {
      const stop = untilStopped();
      try {
        const code = await showJournal(ctx, name, source, lines, args.follow, stop.signal);
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
      return { data: { name, source: "file", file: source.file, lines: tail.lines }, text: tail.lines.join("\n") };
    }

    const write = stdoutWriter(ctx.json, name);
    const stop = untilStopped();
    try {
      if (tail) await write(tail.lines.join("\n") + (tail.lines.length > 0 && tail.endsWithNewline ? "\n" : ""));
      else ctx.progress(`waiting for ${source.file}: it appears when ${name} starts`);
      await followFile(source.file, { from: tail, write, notice: (m) => ctx.progress(m), signal: stop.signal });
    } finally {
      stop.dispose();
    }
    return { data: { name, source: "file", file: source.file, followed: true, stoppedBy: stop.stoppedBy() }, text: "" };
  },
});

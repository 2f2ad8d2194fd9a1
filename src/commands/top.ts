import type { ReadStream, WriteStream } from "node:tty";
import type { Context } from "../core/context.js";
import { onStdinEnd } from "../core/stop-signals.js";
import { TopFeed, type FeedMaker, type FeedPace, type RowFeed } from "../core/top/feed.js";
import { KeyReader } from "../core/top/keys.js";
import { filterRows, parseSortKey, SORT_KEYS, sortRows, topTable, type SortKey, type TopRow } from "../core/top/model.js";
import { OutputError, UsageError } from "../errors.js";
import { peopleText, redactJson } from "../redact.js";
import { NO_PROFILES } from "../render/status-table.js";
import { Screen, type FrameLine } from "../render/top-screen.js";
import { safeParse } from "../schema.js";
import { defineCommand } from "./command.js";
import { positiveSeconds } from "./options.js";

export interface TopArgs {
  once: boolean;
  sort: string;
  filter: string;
  interval: number;
}

export interface TopOptions {
  sort: SortKey;
  filter: string;
  pace: FeedPace;
}

// A probe every few seconds per profile is news enough for people, and keeps 50 gateways' probes cheap.
const MIN_PROBE_EVERY_MS = 10_000;
// `profiles set` without --restart sends no signal: its .env's directory is watched, and this is the fallback.
const PENDING_EVERY_MS = 30_000;
const MAX_INTERVAL_S = 3600;
// Below a tenth of a second the readings themselves would keep a core busy (1e-9 took half of one).
const MIN_INTERVAL_S = 0.1;
// At most this many frames a second, however many signals a burst of restarts brings.
const FRAME_MS = 100;

const KEY_HELP = `q quit  / filter  sort: ${Object.entries(SORT_KEYS).map(([k, v]) => `${k} ${v}`).join("  ")}`;

/** The rows shown: filtered, then sorted. */
export function shown(rows: TopRow[], o: Pick<TopOptions, "sort" | "filter">): TopRow[] {
  return sortRows(filterRows(rows, o.filter), o.sort);
}

/** The line above the table: when, how many, sorted and filtered how. */
function titleLine(all: number, visible: number, o: Pick<TopOptions, "sort" | "filter">): string {
  const time = new Date().toTimeString().slice(0, 8);
  const count = visible === all ? `${all} profile(s)` : `${visible} of ${all} profile(s)`;
  return `profiles top  ${time}  ${count}  sort: ${o.sort}${o.filter ? `  filter: ${o.filter}` : ""}`;
}

function rowStyle(r: TopRow): FrameLine["style"] {
  if (r.activeState === "failed" || (r.health !== null && !r.health.ok)) return "bad";
  return r.pid === null ? "dim" : undefined;
}

/** One frame: the title, what keeps rows away, the table (cut to the screen's height), and the keys or the filter being typed. */
function frame(feed: RowFeed, o: Pick<TopOptions, "sort" | "filter">, typing: string | null, height: number): FrameLine[] {
  const rows = feed.rows();
  const visible = shown(rows, o);
  const title = { text: peopleText(titleLine(rows.length, visible.length, o)) };
  const notes = foldNotes(feed.notes()).map((text) => ({ text: peopleText(text), style: "bad" as const }));
  const foot = { text: peopleText(typing === null ? KEY_HELP : `filter: ${typing}_  (Enter keeps it, Esc drops it)`), style: "dim" as const };
  if (visible.length === 0) {
    const empty = emptyText(rows, notes.length > 0);
    return [title, ...notes, ...(empty === "" ? [] : [{ text: empty }]), foot];
  }
  const [header = "", ...lines] = topTable(visible).split("\n");
  const room = Math.max(1, height - 3 - notes.length);
  const body = lines.slice(0, room).map((text, i) => ({ text: peopleText(text), style: rowStyle(visible[i]!) }));
  if (lines.length > room) body[room - 1] = { text: `... ${lines.length - room + 1} more (narrow them with /)`, style: "dim" };
  return [title, ...notes, { text: header, style: "header" }, ...body, foot];
}

/** Why no row is shown; nothing when there are none and hosts did not answer ("no profiles yet" would not be known). */
function emptyText(all: readonly TopRow[], unanswered: boolean): string {
  if (all.length > 0) return "no profile matches the filter";
  return unanswered ? "" : NO_PROFILES;
}

// Beyond this many, the notes (hosts without rows) are one line: a screen of them would hide the table.
const MAX_NOTES = 3;

function foldNotes(notes: string[]): string[] {
  return notes.length <= MAX_NOTES ? notes : [...notes.slice(0, MAX_NOTES - 1), `... and ${notes.length - MAX_NOTES + 1} more hosts without rows`];
}

/** The table of the rows shown, or why there is none (emptyText); for `--once` and plain lines. */
export function onceText(all: TopRow[], o: Pick<TopOptions, "sort" | "filter">, unanswered = false): string {
  const rows = shown(all, o);
  return rows.length > 0 ? topTable(rows) : emptyText(all, unanswered);
}

/** Until SIGINT, SIGTERM or SIGHUP: `stop` runs once, on the first. */
function onStopSignals(stop: () => void): () => void {
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, stop);
  return () => signals.forEach((s) => process.off(s, stop));
}

/** The full-screen view on a terminal, until `q`, Ctrl-C or a signal; the terminal restored whichever way it ends. */
function fullScreen(ctx: Context, o: TopOptions, makeFeed: FeedMaker): Promise<void> {
  const screen = new Screen(process.stdout as WriteStream, process.stdin.isTTY ? (process.stdin as ReadStream) : null, !ctx.env.NO_COLOR);
  const keys = new KeyReader();
  const view = { sort: o.sort, filter: o.filter };
  let typing: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  return new Promise<void>((resolve, reject) => {
    const feed = makeFeed(() => (timer ??= setTimeout(draw, FRAME_MS)), (err) => end(err));
    function draw(): void {
      clearTimeout(timer);
      timer = undefined;
      screen.draw(frame(feed, view, typing, screen.size.rows));
    }
    const onKeys = (chunk: string): void => {
      for (const a of keys.read(chunk)) {
        if (a.kind === "quit") return end();
        if (a.kind === "sort") view.sort = a.key;
        else {
          typing = a.done ? null : a.text;
          if (a.done && a.text !== null) view.filter = a.text;
        }
      }
      draw();
    };
    const unsignal = onStopSignals(() => end());
    // A terminal that hung up (its window closed) fails our writes: that ends top, it is no bug.
    const onClosed = (): void => end();
    function end(err?: unknown): void {
      feed.stop();
      clearTimeout(timer);
      unsignal();
      process.stdin.off("data", onKeys);
      process.stdout.off("resize", draw);
      // The error listener stays: restoring a terminal that hung up fails too, a tick later.
      screen.restore();
      if (err === undefined) resolve();
      else reject(err);
    }
    screen.enter();
    // Keys only from a terminal: a listener on piped input would read it, and its bytes are no keys.
    if (process.stdin.isTTY) process.stdin.on("data", onKeys);
    process.stdout.on("resize", draw);
    process.stdout.on("error", onClosed);
    screen.draw([{ text: "profiles top: reading the profiles..." }]);
    feed.start(true).then(draw, end);
  });
}

/** How plain lines print the rows: printed when `body` changed (at most once per `everyMs`), as `out` makes it. */
interface Printer {
  everyMs: number;
  body(feed: RowFeed): string;
  out(feed: RowFeed, body: string): string;
}

/** Not a terminal: a plain table (no escape codes) each time what it shows changed (not its clock), at most once per interval. */
function tablePrinter(o: TopOptions): Printer {
  return {
    everyMs: o.pace.intervalMs,
    body(feed) {
      const notes = foldNotes(feed.notes());
      return [...notes, onceText(feed.rows(), o, notes.length > 0)].filter((l) => l !== "").join("\n");
    },
    out: (feed, body) => peopleText(`${titleLine(feed.rows().length, shown(feed.rows(), o).length, o)}\n${body}\n\n`),
  };
}

/** Set (to 1) by a fleet driver (`top --host`): each change of the rows is one line of JSON for it to draw. */
export const TOP_STREAM = "AP_TOP_STREAM";

const jsonLines: Printer = { everyMs: FRAME_MS, body: (feed) => redactJson(feed.rows()), out: (_feed, body) => `${body}\n` };

/** The rows as `printer` makes them text, until a signal, a reader that went away, or (for a fleet driver) the end of stdin. */
function plainLines(ctx: Context, printer: Printer, makeFeed: FeedMaker): Promise<void> {
  let last = "";
  let printedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  // A reading under way when the view ended still reports its change: it must not print (to a stdout
  // that refused the last write, a second refusal would find no listener and crash node).
  let ended = false;
  return new Promise<void>((resolve, reject) => {
    const feed = makeFeed(() => void (ended || (timer ??= setTimeout(print, Math.max(0, printedAt + printer.everyMs - Date.now())))), (err) => end(err));
    function print(): void {
      timer = undefined;
      if (ended) return;
      const body = printer.body(feed);
      if (body === last) return;
      last = body;
      printedAt = Date.now();
      process.stdout.write(printer.out(feed, body));
    }
    const unsignal = onStopSignals(() => end());
    const offStdin = onStdinEnd(ctx.env, () => end());
    // `profiles top | head` closes our stdout: stop, as the reader did. Any other refusal (`> /dev/full`)
    // is an error: the view was lost.
    const onClosed = (err: NodeJS.ErrnoException): void => end(err.code === "EPIPE" ? undefined : new OutputError(err.code ?? "EIO", false));
    process.stdout.on("error", onClosed);
    function end(err?: unknown): void {
      ended = true;
      feed.stop();
      clearTimeout(timer);
      unsignal();
      offStdin();
      process.stdout.off("error", onClosed);
      if (err === undefined) resolve();
      else reject(err);
    }
    feed.start(true).then(print, end);
  });
}

/** The live view of what `makeFeed` feeds: full screen on a terminal, plain tables elsewhere, JSON lines for a fleet driver. */
export async function liveTop(ctx: Context, o: TopOptions, makeFeed: FeedMaker): Promise<void> {
  if (ctx.env[TOP_STREAM] === "1") await plainLines(ctx, jsonLines, makeFeed);
  else if (process.stdout.isTTY) await fullScreen(ctx, o, makeFeed);
  else await plainLines(ctx, tablePrinter(o), makeFeed);
}

/** The options as checked: `--json` only with `--once`, `--interval` a positive number of seconds, a known sort key. */
export function topOptions(args: TopArgs & { json?: boolean }): TopOptions {
  if (args.json && !args.once) throw new UsageError("--json needs --once: the live view is for people", "run `profiles top --once --json`");
  // At most an hour: node fires a timer of more than 2^31 ms at once, which would spin.
  if (!safeParse(positiveSeconds, args.interval).success || args.interval < MIN_INTERVAL_S || args.interval > MAX_INTERVAL_S) {
    throw new UsageError(`--interval "${String(args.interval)}" must be a number of seconds from ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S}`);
  }
  const intervalMs = Math.round(args.interval * 1000);
  return { sort: parseSortKey(args.sort), filter: String(args.filter), pace: { intervalMs, probeEveryMs: Math.max(intervalMs, MIN_PROBE_EVERY_MS), pendingEveryMs: Math.max(intervalMs, PENDING_EVERY_MS) } };
}

export default defineCommand<TopArgs, TopOptions>({
  command: "top",
  describe: "A live view of every profile: state, health, PID, uptime, restarts, memory, CPU, port, pending restart (q quits)",
  needs: { config: true, profiles: "none", manager: true },
  builder: (y) =>
    y
      .option("once", { type: "boolean", default: false, describe: "Print the table once and exit (--json: the rows)" })
      .option("sort", { type: "string", default: "name", describe: `Sort by ${Object.values(SORT_KEYS).join(", ")} (or its key: ${Object.keys(SORT_KEYS).join(", ")})` })
      .option("filter", { type: "string", default: "", describe: "Show only profiles whose name, state or health contains this text" })
      // 3 s, as procps' top: at 2 s, 50 profiles cost ~2.3 % of a core on this machine's 2 cores, at 3 s ~1.5 % (README).
      .option("interval", { type: "number", default: 3, describe: "Seconds between readings of memory and CPU (states follow the manager's signals at once)" }),
  parse: topOptions,
  async run(args, ctx, o) {
    const config = await ctx.config();
    const makeFeed: FeedMaker = (onChange, onError) => new TopFeed(ctx, config, o.pace, onChange, onError);
    if (args.once) {
      const feed = makeFeed(() => undefined, () => undefined);
      await feed.start(false);
      feed.stop();
      return { data: shown(feed.rows(), o), text: onceText(feed.rows(), o) };
    }
    await liveTop(ctx, o, makeFeed);
    return { data: null, text: "", streamed: true };
  },
});

/**
 * Several profiles' output in one stream, as `pm2 logs` shows it: each line prefixed with its profile.
 * From the journal, one `journalctl` over all their units gives the lines in time order, each with its
 * time. Log files carry no time per line: their last lines are shown profile by profile (the file
 * written to most recently last), and lines followed with -f in the order they arrive, stamped then.
 */
import fs from "node:fs/promises";
import type { Config } from "../../config.js";
import { UsageError } from "../../errors.js";
import { peopleText, redactJson } from "../../redact.js";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { followFile } from "./follow.js";
import { entryLine, journalEntry, ownUid, runJournal, unitMatches } from "./journal.js";
import { lineStream, type MergedLine } from "./lines.js";
import { logFile } from "./source.js";
import { tailFile } from "./tail-file.js";


/** What the merged view reads and how it prints. */
export interface MergedOptions {
  names: string[];
  lines: number;
  follow: boolean;
  /** Only lines from this time on (the journal only). */
  since: Date | null;
  json: boolean;
  colour: boolean;
  signal: AbortSignal;
  out: (text: string) => Promise<void>;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: `10m`, `2h`, `1d` ago, or a date and time (`2026-11-30 12:00`, ISO 8601). */
export function parseSince(text: string, now = Date.now()): Date {
  const rel = /^(\d{1,6})\s*([smhd])$/.exec(text.trim());
  const t = rel ? now - Number(rel[1]) * UNITS[rel[2]!]! : Date.parse(text.trim().replace(/^(\d{4}-\d\d-\d\d) /, "$1T"));
  if (Number.isNaN(t)) throw new UsageError(`--since "${text}" is not a time`, "for example `--since 10m`, `--since 2h` or `--since \"2026-11-30 12:00\"`");
  // Before 1970 is all of the journal: journalctl refuses a negative time ("Failed to parse timestamp").
  return new Date(Math.max(0, t));
}

/** ANSI colours the profile names cycle through on a terminal. */
const COLOURS = [36, 33, 35, 32, 34, 31];

/** How one line prints: `NAME | message` for people (name padded, coloured on a terminal), or one JSON object. */
export function lineFormatter(names: readonly string[], json: boolean, colour: boolean): (l: MergedLine) => string {
  const width = Math.max(0, ...names.map((n) => n.length));
  const colourOf = new Map(names.map((n, i) => [n, COLOURS[i % COLOURS.length]!]));
  return (l) => {
    if (json) return redactJson(l) + "\n";
    const name = l.profile.padEnd(width);
    const shown = colour ? `\x1b[${colourOf.get(l.profile) ?? 0}m${name}\x1b[0m` : name;
    return `${shown} | ${peopleText(l.message)}\n`;
  };
}

/** A line of `journalctl -o json` as a line of its profile (entryLine); null for an entry of no profile of ours. */
export function journalLine(text: string): MergedLine | null {
  const e = journalEntry(text);
  return e && entryLine(e);
}

/** The merged view from the journal: one journalctl over every unit; its exit code. */
export async function showMergedJournal(ctx: Context, journalctl: string, o: MergedOptions): Promise<number> {
  const format = lineFormatter(o.names, o.json, o.colour);
  // --all: without it a field over 4096 bytes (a long line) comes as null.
  const args = ["--user", ...unitMatches(o.names.map(unitName), ownUid()), "-n", String(o.lines), "-o", "json", "--all", "--no-pager", "-q"];
  if (o.since) args.push(`--since=@${Math.floor(o.since.getTime() / 1000)}`);
  if (o.follow) args.push("-f");
  const stream = lineStream((text) => {
    const l = journalLine(text);
    return l ? format(l) : "";
  }, o.out);
  return runJournal(journalctl, args, ctx.env, o.signal, stream);
}

/** The merged view from log files: each profile's last lines, then (-f) new lines as they arrive. */
export async function showMergedFiles(ctx: Context, config: Config, o: MergedOptions): Promise<void> {
  if (o.since) throw new UsageError("--since needs the journal: log files hold no time per line", "leave out --since, or `profiles init --log-dir \"\"` on a host with journald");
  const format = lineFormatter(o.names, o.json, o.colour);
  const tails = await Promise.all(o.names.map(async (name) => {
    const file = logFile(config.logDir, name);
    const mtime = (await fs.stat(file).catch(() => null))?.mtimeMs ?? 0;
    return { name, file, mtime, tail: await tailFile(file, o.lines) };
  }));
  for (const t of [...tails].sort((a, b) => a.mtime - b.mtime)) {
    await o.out(t.tail?.lines.map((message) => format({ profile: t.name, time: null, stream: null, message })).join("") ?? "");
  }
  if (!o.follow) return;
  await Promise.all(tails.map(async (t) => {
    const stream = lineStream((message) => format({ profile: t.name, time: new Date().toISOString(), stream: null, message }), o.out);
    await followFile(t.file, { from: t.tail, write: (text) => stream.write(text), notice: (m) => ctx.progress(`${t.name}: ${m}`), signal: o.signal });
    await stream.end();
  }));
}

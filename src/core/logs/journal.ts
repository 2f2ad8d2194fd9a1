/** The journal, read through `journalctl --user` (reading logs is no systemd action; the bus has no log API). */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import { createInterface } from "node:readline";
import { peopleText, redactJson } from "../../redact.js";
import type { Context } from "../context.js";
import { resolveProgram } from "../exec-command.js";
import { lineStream, type MergedLine } from "./lines.js";
import { noJournalLinesYet } from "./source.js";

/** journald's socket: where it exists, units' output goes to the journal. */
export const JOURNAL_SOCKET = "/run/systemd/journal/socket";

/** Whether this host runs journald and has journalctl to read it; the program's path, or null. */
export async function findJournal(env: NodeJS.ProcessEnv, socket = JOURNAL_SOCKET): Promise<string | null> {
  const st = await fs.stat(socket).catch(() => null);
  if (!st?.isSocket()) return null;
  return resolveProgram("journalctl", env.PATH);
}

/** One line of `journalctl -o json` as its fields; null when it is not a JSON object. */
export function journalEntry(text: string): Record<string, unknown> | null {
  try {
    const e = JSON.parse(text) as unknown;
    return e !== null && typeof e === "object" ? (e as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** An entry's field as text, "" when absent: a value that is not UTF-8 or holds control characters comes as an array of bytes. */
function journalField(e: Record<string, unknown>, field: string): string {
  const v = e[field];
  return Array.isArray(v) ? Buffer.from(v as number[]).toString("utf8") : String(v ?? "");
}

/** An entry's MESSAGE as text. */
export function journalMessage(e: Record<string, unknown>): string {
  return journalField(e, "MESSAGE");
}

/**
 * The profile a `journalctl -o json` entry (of `unitMatches`) is a line of; null for none of ours.
 * Only fields with a leading "_" are journald's own; any process may send the others with its line
 * (`logger --journald`, `systemd-cat -t`), so each of those counts only from the sender that writes it:
 * - the gateway's own lines carry _SYSTEMD_USER_UNIT (journald's, from the writer's cgroup);
 * - the manager's lines about the unit carry USER_UNIT, trusted from the manager (_SYSTEMD_USER_UNIT
 *   init.scope), not from `logger --journald` in another unit;
 * - a crash's COREDUMP_USER_UNIT comes from systemd-coredump, which drops to the crashed process's user
 *   before it writes (so not _UID 0), but runs in its own system unit (_SYSTEMD_UNIT
 *   systemd-coredump@...), where no process of the user can be; OBJECT_SYSTEMD_USER_UNIT from root;
 * - SYSLOG_IDENTIFIER (the template's `SyslogIdentifier=%N`) counts only for a line journald could place
 *   in no cgroup: the gateway's lines it read after the gateway was gone. A forger that exits before
 *   journald reads its line is stored the same way, and still counts.
 * journalctl cannot match an absent field, nor a field's sender: this is the filter its matches need.
 */
export function entryProfile(e: Record<string, unknown>): string | null {
  const ours = (v: unknown): RegExpExecArray | null => /^agent-gateway@(.+)\.service$/.exec(String(v ?? ""));
  const fromManager = e._SYSTEMD_USER_UNIT === "init.scope";
  const fromCoredump = /^systemd-coredump@.+\.service$/.test(String(e._SYSTEMD_UNIT ?? ""));
  const m =
    ours(e._SYSTEMD_USER_UNIT) ??
    (fromManager ? ours(e.USER_UNIT) : null) ??
    (fromCoredump ? ours(e.COREDUMP_USER_UNIT) : null) ??
    (e._UID === "0" ? ours(e.OBJECT_SYSTEMD_USER_UNIT) : null) ??
    (e._SYSTEMD_CGROUP === undefined ? ours(`${String(e.SYSLOG_IDENTIFIER ?? "")}.service`) : null);
  return m ? m[1]! : null;
}

/** An entry as a line of its profile (entryProfile); null for an entry of no profile of ours. */
export function entryLine(e: Record<string, unknown>): MergedLine | null {
  const profile = entryProfile(e);
  if (!profile) return null;
  const micros = Number(e.__REALTIME_TIMESTAMP);
  return { profile, time: Number.isFinite(micros) ? new Date(micros / 1000).toISOString() : null, stream: null, message: journalMessage(e) };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * An entry as journalctl's default output (`-o short`) shows it, `Dec 03 09:34:21 host ident[pid]: message`
 * in local time, for people: redacted, control characters escaped. The lines must come as JSON to be
 * filtered (entryProfile), so journalctl cannot print them itself.
 */
export function shortLine(e: Record<string, unknown>): string {
  // journalctl's order: the sender's own time where it gave one, else journald's.
  const source = Number(journalField(e, "_SOURCE_REALTIME_TIMESTAMP"));
  const t = new Date((source > 0 ? source : Number(journalField(e, "__REALTIME_TIMESTAMP"))) / 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  const time = Number.isNaN(t.getTime()) ? "" : `${MONTHS[t.getMonth()]} ${two(t.getDate())} ${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())} `;
  const host = journalField(e, "_HOSTNAME");
  const ident = journalField(e, "SYSLOG_IDENTIFIER") || journalField(e, "_COMM") || "unknown";
  const pid = journalField(e, "_PID") || journalField(e, "SYSLOG_PID");
  const head = peopleText(`${time}${host ? `${host} ` : ""}${ident}${pid ? `[${pid}]` : ""}: `);
  // A message of several lines: the next ones under the first, as journalctl indents them.
  return head + peopleText(journalMessage(e)).split("\n").join("\n" + " ".repeat(head.length));
}

/**
 * journalctl's matches for the lines of `units` (and, with `pid` over 0, of that process), this user's:
 * what `--user -u UNIT` matches (journalctl 252's add_matches_for_user_unit: the unit's own output, the
 * manager's lines about it, its coredumps and others' lines about it), and the unit's output by the
 * SYSLOG_IDENTIFIER the template gives it (`SyslogIdentifier=%N`). journald tells a stdout line's unit by
 * the sender's cgroup: when the gateway has exited, and been reaped, before journald reads its first line
 * (a crash at start, a loaded host), its lines are stored with no unit at all, and `-u` never shows them.
 * The identifier comes with the stream itself; `_PID` finds the lines of a template from before it.
 */
export function unitMatches(units: readonly string[], uid: number, pid = 0): string[] {
  const own = `_UID=${uid}`;
  const terms = units.flatMap((u) => [
    [`_SYSTEMD_USER_UNIT=${u}`, own],
    [`USER_UNIT=${u}`, own],
    [`COREDUMP_USER_UNIT=${u}`, own, "_UID=0"],
    [`OBJECT_SYSTEMD_USER_UNIT=${u}`, own, "_UID=0"],
    [`SYSLOG_IDENTIFIER=${syslogIdentifier(u)}`, own],
  ]);
  if (pid > 0) terms.push([`_PID=${pid}`, own]);
  return terms.flatMap((t, i) => (i === 0 ? t : ["+", ...t]));
}

/** The SYSLOG_IDENTIFIER the template's `SyslogIdentifier=%N` gives a unit's output: its name without `.service`. */
export function syslogIdentifier(unit: string): string {
  return unit.replace(/\.service$/, "");
}

/** This process's uid, which journal matches pair with each term. */
export function ownUid(): number {
  return process.getuid?.() ?? 0;
}

/** journalctl's `--since` for a time in ms since the epoch, to the ms (journal entries carry µs). */
export function sinceArg(ms: number): string {
  return `--since=@${(ms / 1000).toFixed(3)}`;
}

/**
 * The arguments that show a unit's last `lines` entries (or its entries from `sinceMs` on), and follow it
 * with `follow`: as JSON, each with its fields for entryProfile; --all, or a field over 4096 bytes (a long
 * line) comes as null.
 */
export function journalArgs(unit: string, lines: number, follow: boolean, sinceMs?: number): string[] {
  const from = sinceMs === undefined ? ["-n", String(lines)] : [sinceArg(sinceMs)];
  return ["--user", ...unitMatches([unit], ownUid()), ...from, ...(follow ? ["-f"] : []), "-o", "json", "--all", "--no-pager"];
}

/**
 * Whether journalctl with `args` would print no line that `keep` takes: it exits 0 without one. -q keeps
 * the "-- No entries --" line and the hints out of that answer. Stopped at the first line kept, so nothing
 * is kept; one that fails counts as not empty, and the run that shows the lines then shows its error.
 */
export function journalIsEmpty(program: string, args: string[], env: NodeJS.ProcessEnv, keep: (line: string) => boolean): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [...args, "-q"], { stdio: ["ignore", "pipe", "ignore"], env });
    let found = false;
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", (line) => {
      if (found || !keep(line)) return;
      found = true;
      child.kill("SIGTERM");
    });
    child.on("error", reject);
    child.on("close", (code) => resolve(!found && code === 0));
  });
}

/**
 * Show the profile's lines among the unit's last `lines` entries through `out` (and with `follow` the new
 * ones, until `signal` aborts), redacted; journalctl's exit code. No lines: NothingToShowError, or with `follow` a word on stderr first.
 */
export async function showJournal(
  ctx: Context, name: string, source: { unit: string; journalctl: string }, lines: number, follow: boolean, signal: AbortSignal, out: (text: string) => Promise<void>,
): Promise<number> {
  const { unit, journalctl } = source;
  // journalctl's matches let in any line tagged with the unit's SYSLOG_IDENTIFIER: entryProfile drops the
  // ones another process tagged so.
  const own = (line: string): Record<string, unknown> | null => {
    const e = journalEntry(line);
    return e && entryProfile(e) === name ? e : null;
  };
  const lookedAt = Date.now();
  let since: number | undefined;
  if (await journalIsEmpty(journalctl, journalArgs(unit, lines, false), ctx.env, (line) => own(line) !== null)) {
    if (!follow) throw noJournalLinesYet(name, unit);
    ctx.progress(`nothing from ${name} in the journal yet (${unit}): waiting for its first line`);
    // `-n N -f` on a unit without a line lost the lines written while journalctl got going (systemd 252:
    // a start right after `logs -f` showed 4 of its 7 lines). From the time of the look on, every line
    // written since is shown, whenever journalctl is ready.
    since = lookedAt;
  }
  // --json: the lines as the merged view prints them (logs.ts), one object each and nothing else.
  const stream = lineStream((line) => {
    const e = own(line);
    return e ? (ctx.json ? redactJson(entryLine(e)) : shortLine(e)) + "\n" : "";
  }, out);
  return runJournal(journalctl, journalArgs(unit, lines, follow, since), ctx.env, signal, stream);
}

/**
 * Run journalctl, its output through `stream` (its errors on our stderr), and resolve with its exit code.
 * When `signal` aborts (our own SIGINT/SIGTERM), journalctl is told to stop too; a terminal's Ctrl-C
 * reaches it directly.
 */
export function runJournal(program: string, args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal, stream: { write(text: string): Promise<void>; end(): Promise<void> }): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["inherit", "pipe", "inherit"], env });
    // One piece at a time, in order; journalctl waits while stdout is slow.
    let chain = Promise.resolve();
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      child.stdout.pause();
      chain = chain.then(() => stream.write(text)).finally(() => child.stdout.resume());
    });
    const stop = (): void => void child.kill("SIGTERM");
    signal.addEventListener("abort", stop, { once: true });
    // Aborted before the listener was added (while showJournal looked first): it would never be called.
    if (signal.aborted) stop();
    child.on("error", (err) => {
      signal.removeEventListener("abort", stop);
      reject(err);
    });
    child.on("close", (code) => {
      signal.removeEventListener("abort", stop);
      void chain.then(() => stream.end()).then(() => resolve(code ?? 1), reject);
    });
  });
}

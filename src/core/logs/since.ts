/**
 * Where a profile's output stood before a start, so that a failure shows what the gateway wrote since,
 * not the lines of earlier runs: the log file's size (`init --log-dir`), or the time in the journal's clock.
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { logFile } from "./source.js";
import { tailFile } from "./tail-file.js";
import { entryProfile, findJournal, journalEntry, journalMessage, ownUid, sinceArg, unitMatches } from "./journal.js";

/** A place in a profile's output; `none` where it goes nowhere we can read. */
export type OutputMark =
  | { kind: "file"; file: string; size: number; id: string | null }
  | { kind: "journal"; unit: string; journalctl: string; sinceMs: number }
  | { kind: "none" };

/** How many lines a failure shows. */
export const FAILURE_LINES = 8;
/** journald stores a line a moment after the gateway writes it: how long a read waits for the first one. */
const JOURNAL_SETTLE_MS = 500;
/**
 * How long a read waits for a line of the run's own main process. journald takes the manager's lines
 * about the unit (its exit, the unit's failure) and the gateway's stdout (a stream socket) on separate
 * paths and does not order the two: the manager's can be stored first, the gateway's a moment later.
 */
const OWN_LINE_WAIT_MS = 1000;
/** The first pause between two reads of the journal; each next one doubles, up to the last. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 200;

/** One journal entry of a tail: its message and the PID that sent it (`_PID`; 0 when not recorded). */
export interface JournalEntry {
  message: string;
  pid: number;
}

/** How a tail is waited for: `pid`, when not 0, the main process of the run whose lines are wanted. */
export interface TailWait {
  pid: number;
  settleMs?: number;
  ownLineMs?: number;
}

/** Mark where the profile's output ends now; taken before a start or restart job. Never throws. */
export async function markOutput(ctx: Context, profile: string): Promise<OutputMark> {
  const logDir = (await ctx.config().catch(() => null))?.logDir;
  if (logDir === undefined) return { kind: "none" };
  if (logDir) {
    const file = logFile(logDir, profile);
    const st = await fs.stat(file).catch(() => null);
    return { kind: "file", file, size: st?.size ?? 0, id: st ? `${st.dev}:${st.ino}` : null };
  }
  const journalctl = await findJournal(ctx.env).catch(() => null);
  if (journalctl === null) return { kind: "none" };
  // A time, not the cursor of the unit's last entry: asking journalctl for a cursor cost a process per
  // restart (a fork of this one, then journalctl; BENCHMARKS.md). journald stamps an entry with the wall
  // clock when it receives it, after this mark for any line the job's run writes. A wall clock stepped
  // back during the job leaves this run's lines out; one stepped back after an earlier run wrote, and
  // before the mark, lets some of that run's lines in.
  return { kind: "journal", unit: unitName(profile), journalctl, sinceMs: Date.now() };
}

/**
 * The last lines the profile wrote after `mark` (at most `lines`); [] when there are none or they cannot be
 * read. `ownOnly`: from the journal, only the main process's own lines, not the manager's about the unit
 * (`verify`'s logs check: "Started agent-gateway@..." is no sign that the gateway's output arrives).
 */
export async function outputSince(ctx: Context, mark: OutputMark, lines = FAILURE_LINES, opts: { ownOnly?: boolean } = {}): Promise<string[]> {
  if (mark.kind === "file") {
    const st = await fs.stat(mark.file).catch(() => null);
    if (!st) return [];
    // Truncated or replaced (rotated) since the mark: everything in it is from after the mark.
    const same = mark.id === `${st.dev}:${st.ino}` && st.size >= mark.size;
    return (await tailFile(mark.file, lines, same ? mark.size : 0).catch(() => null))?.lines ?? [];
  }
  if (mark.kind === "journal") {
    const started = Date.now();
    const pid = await runPid(ctx, mark);
    // Newest first, then turned back: with --since, systemd before 254 gives -n's oldest lines, not the
    // last ones (systemd#26657), and a failure's last lines are the ones that say why. JSON for each
    // entry's _PID; --all, or a message over 4096 bytes comes as null.
    const uid = ownUid();
    const matches = opts.ownOnly && pid > 0 ? [`_PID=${pid}`, `_UID=${uid}`] : unitMatches([mark.unit], uid, pid);
    const args = ["--user", ...matches, sinceArg(mark.sinceMs), "--reverse", "-n", String(lines), "-o", "json", `--output-fields=${TAIL_FIELDS}`, "--all", "--no-pager", "-q"];
    // The matches let in a line another process sent with the unit's name in a field of its own: not the run's.
    const ofRun = (e: Record<string, unknown>): boolean => {
      const profile = entryProfile(e);
      return (pid > 0 && Number(e._PID) === pid) || (profile !== null && unitName(profile) === mark.unit);
    };
    let reads = 0;
    const read = async () => (reads++, journalEntries(await capture(mark.journalctl, args, ctx.env), ofRun).reverse());
    const got = await journalTail(read, { pid });
    ctx.log?.debug({ unit: mark.unit, mainPid: pid, reads, ms: Date.now() - started }, "failure tail read from the journal");
    return got;
  }
  return [];
}

/**
 * Reads the journal (`read`: a tail's entries, oldest first) until it holds a line of the main process
 * `wait.pid` (any line when that is 0), or the wait's deadline passes; then its lines, whatever they are.
 * Bounded: a process that wrote nothing costs the deadline, no more.
 */
export async function journalTail(read: () => Promise<JournalEntry[]>, wait: TailWait): Promise<string[]> {
  const deadline = Date.now() + (wait.pid > 0 ? (wait.ownLineMs ?? OWN_LINE_WAIT_MS) : (wait.settleMs ?? JOURNAL_SETTLE_MS));
  for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
    const got = await read();
    const enough = wait.pid > 0 ? got.some((e) => e.pid === wait.pid) : got.length > 0;
    const left = deadline - Date.now();
    if (enough || left <= 0) return got.flatMap((e) => e.message.split("\n"));
    await new Promise((r) => setTimeout(r, Math.min(pause, left)));
  }
}

/** What a tail reads of each entry: its message, its sender, and the fields entryProfile judges it by. */
const TAIL_FIELDS = "MESSAGE,_PID,_UID,_SYSTEMD_UNIT,_SYSTEMD_USER_UNIT,_SYSTEMD_CGROUP,USER_UNIT,COREDUMP_USER_UNIT,OBJECT_SYSTEMD_USER_UNIT,SYSLOG_IDENTIFIER";

/** The entries of `journalctl -o json` output that `keep` takes, in its order; a line that does not parse is left out. */
export function journalEntries(text: string, keep: (e: Record<string, unknown>) => boolean = () => true): JournalEntry[] {
  return text.split("\n").flatMap((line) => {
    const e = line.trim() === "" ? null : journalEntry(line);
    if (!e || !keep(e)) return [];
    const pid = Number(e._PID);
    return [{ message: journalMessage(e), pid: Number.isInteger(pid) && pid > 0 ? pid : 0 }];
  });
}

/**
 * The main PID of the run a journal mark was taken before (ExecMainPID, kept by the manager after the
 * process exits); 0 when none started since the mark (a job that never reached exec) or it cannot be read.
 */
async function runPid(ctx: Context, mark: { unit: string; sinceMs: number }): Promise<number> {
  try {
    const p = await (await ctx.systemd()).properties(mark.unit, ["ExecMainPID", "ExecMainStartTimestamp"]);
    const pid = Number(p.ExecMainPID);
    const startedUs = Number(p.ExecMainStartTimestamp);
    // An earlier run's process: its lines are before the mark, none of them would come.
    return Number.isInteger(pid) && pid > 0 && startedUs >= mark.sinceMs * 1000 ? pid : 0;
  } catch {
    return 0;
  }
}

/** A program's stdout ("" when it cannot be run): journalctl's failures only make a failure's tail empty. */
function capture(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "ignore"], env });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.on("error", () => resolve(""));
    child.on("close", () => resolve(out));
  });
}

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
import { findJournal, sinceArg } from "./journal.js";

/** A place in a profile's output; `none` where it goes nowhere we can read. */
export type OutputMark =
  | { kind: "file"; file: string; size: number; id: string | null }
  | { kind: "journal"; unit: string; journalctl: string; sinceMs: number }
  | { kind: "none" };

/** How many lines a failure shows. */
export const FAILURE_LINES = 8;
/** journald stores a line a moment after the gateway writes it: how long a read waits for the first one. */
const JOURNAL_SETTLE_MS = 500;

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

/** The last lines the profile wrote after `mark` (at most `lines`); [] when there are none or they cannot be read. */
export async function outputSince(ctx: Context, mark: OutputMark, lines = FAILURE_LINES): Promise<string[]> {
  if (mark.kind === "file") {
    const st = await fs.stat(mark.file).catch(() => null);
    if (!st) return [];
    // Truncated or replaced (rotated) since the mark: everything in it is from after the mark.
    const same = mark.id === `${st.dev}:${st.ino}` && st.size >= mark.size;
    return (await tailFile(mark.file, lines, same ? mark.size : 0).catch(() => null))?.lines ?? [];
  }
  if (mark.kind === "journal") {
    // Newest first, then turned back: with --since, systemd before 254 gives -n's oldest lines, not the
    // last ones (systemd#26657), and a failure's last lines are the ones that say why.
    const args = ["--user", "-u", mark.unit, sinceArg(mark.sinceMs), "--reverse", "-n", String(lines), "-o", "cat", "--no-pager", "-q"];
    const deadline = Date.now() + JOURNAL_SETTLE_MS;
    for (;;) {
      const text = await capture(mark.journalctl, args, ctx.env);
      const got = text.trimEnd() === "" ? [] : text.trimEnd().split("\n").reverse();
      if (got.length > 0 || Date.now() >= deadline) return got;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return [];
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

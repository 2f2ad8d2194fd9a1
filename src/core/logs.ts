/** `profiles logs`: where a profile's output is (its log file, or the journal) and its last lines. */
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.js";
import { BadFileError, NothingToShowError, UsageError } from "../errors.js";
import type { Paths } from "../paths.js";
import { unitName } from "../systemd/types.js";

/** Lines shown when -n is not given. */
export const DEFAULT_LINES = 50;

const CHUNK = 64 * 1024;

/** Parse -n: a positive whole number, else UsageError. */
export function parseLineCount(raw: unknown): number {
  const text = String(raw);
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`-n "${text}" must be a positive whole number of lines`, "for example `-n 100`");
  return n;
}

/** Where the template appends a profile's stdout and stderr (`init --log-dir`). */
export function logFile(logDir: string, name: string): string {
  return path.join(logDir, `${name}.log`);
}

/** The last lines of a file, and where the file ended when read, so that following goes on from there. */
export interface Tail {
  lines: string[];
  /** The file's size when read: following starts at this byte. */
  size: number;
  ino: number;
  dev: number;
  /** Whether the last line was complete; a partial one is still being written. */
  endsWithNewline: boolean;
}

/**
 * Read the last `n` lines of `file` from its end, without reading the whole file, and none from before
 * byte `from` (what a failure shows starts where the file ended before the start); null if it does not exist.
 */
export async function tailFile(file: string, n: number, from = 0): Promise<Tail | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new BadFileError(file, `cannot be read (${code})`);
  }
  try {
    const st = await fh.stat();
    const chunks: Buffer[] = [];
    let pos = st.size;
    let newlines = 0;
    // n complete lines need n + 1 newlines: the one before the first line, and each line's own.
    while (pos > from && newlines <= n) {
      const len = Math.min(CHUNK, pos - from);
      pos -= len;
      const buf = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      chunks.unshift(buf.subarray(0, got));
      for (let i = 0; i < got; i++) if (buf[i] === 0x0a) newlines++;
    }
    // Decoded once, whole: a chunk boundary may split a multibyte character.
    const text = Buffer.concat(chunks).toString("utf8");
    const endsWithNewline = text.endsWith("\n");
    const lines = (endsWithNewline ? text.slice(0, -1) : text).split("\n");
    return { lines: text === "" ? [] : lines.slice(-n), size: st.size, ino: st.ino, dev: st.dev, endsWithNewline };
  } finally {
    await fh.close();
  }
}

/** Where a profile's output can be read. */
export type LogSource = { kind: "file"; file: string } | { kind: "journal"; unit: string; journalctl: string };

/**
 * The log file when the config has a log dir (what the template writes to), else the journal when
 * this host has journald (`journalctl` is the program that reads it, or null); NothingToShowError
 * naming the fix when neither.
 */
export function chooseSource(config: Config, paths: Paths, name: string, journalctl: string | null): LogSource {
  if (config.logDir) return { kind: "file", file: logFile(config.logDir, name) };
  if (journalctl !== null) return { kind: "journal", unit: unitName(name), journalctl };
  throw new NothingToShowError(
    `no log to show for ${name}: no log dir is configured and this host has no journald`,
    `run \`profiles init --log-dir ${path.join(paths.stateDir, "logs")}\` (or another absolute DIR), then \`profiles restart ${name}\``,
  );
}

/** The error for a journal that has no lines of this profile's unit. */
export function noJournalLinesYet(name: string, unit: string): NothingToShowError {
  return new NothingToShowError(
    `no output from ${name} yet: the journal has no lines of ${unit}`,
    `its output reaches the journal once it runs: run \`profiles start ${name}\`, or \`profiles logs ${name} -f\` to wait for the first line`,
  );
}

/** The error for a log dir whose file for this profile was never written. */
export function noLogFileYet(name: string, file: string): NothingToShowError {
  return new NothingToShowError(
    `no output from ${name} yet: ${file} does not exist`,
    `the file appears when the profile starts with the current template: run \`profiles restart ${name}\``,
  );
}

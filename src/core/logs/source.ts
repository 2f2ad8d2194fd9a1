/** `profiles logs`: where a profile's output is (its log file, or the journal), and what to say when it has none. */
import path from "node:path";
import type { Config } from "../../config.js";
import { NothingToShowError, UsageError } from "../../errors.js";
import type { Paths } from "../../paths.js";
import { unitName } from "../../systemd/types.js";

/** Lines shown when -n is not given. */
export const DEFAULT_LINES = 50;

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

/** Where `init` sends profiles' output on a host without journald, when no --log-dir was given. */
export function defaultLogDir(paths: Paths): string {
  return path.join(paths.stateDir, "logs");
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
    `run \`profiles init --log-dir ${defaultLogDir(paths)}\` (or another absolute DIR), then \`profiles restart ${name}\``,
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

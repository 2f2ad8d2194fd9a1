import { isUtf8 } from "node:buffer";
import { readFileSync } from "node:fs";

/**
 * Which of this process's arguments `argv` (process.argv without node and the script) are not valid
 * UTF-8, by index. Node decodes argv as UTF-8 and turns every other byte into U+FFFD, so only the bytes
 * in /proc/self/cmdline tell; they are read only when an argument holds U+FFFD, and only trusted when
 * they decode to exactly `argv` (a caller passing other arguments gets none).
 */
export function argsNotUtf8(argv: readonly string[]): number[] {
  if (!argv.some((a) => a.includes("\uFFFD"))) return [];
  let raw: Buffer;
  try {
    raw = readFileSync("/proc/self/cmdline");
  } catch {
    return [];
  }
  const all: Buffer[] = [];
  for (let at = 0; at < raw.length; ) {
    const end = raw.indexOf(0, at);
    all.push(raw.subarray(at, end < 0 ? raw.length : end));
    at = end < 0 ? raw.length : end + 1;
  }
  const mine = all.slice(all.length - argv.length);
  if (mine.length !== argv.length || mine.some((b, i) => b.toString("utf8") !== argv[i])) return [];
  return mine.flatMap((b, i) => (isUtf8(b) ? [] : [i]));
}

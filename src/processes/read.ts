import { readFileSync } from "node:fs";

/**
 * A file under /proc, or "" when the process is gone or not ours to read. Synchronous on purpose:
 * /proc never waits on a disk, and a sweep reads several files per profile.
 */
export function readProc(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * The environment a process was started with (/proc/PID/environ), key to value, each value as a
 * "binary" string (one char per byte, latin1) so that no byte is lost to UTF-8 decoding; null when the
 * process is gone or not ours to read.
 */
export function readEnviron(pid: number, procRoot = "/proc"): Map<string, string> | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path.join(procRoot, String(pid), "environ"));
  } catch {
    return null;
  }
  const env = new Map<string, string>();
  for (const pair of bytes.toString("latin1").split("\0")) {
    const eq = pair.indexOf("=");
    if (eq > 0) env.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  // A zombie's environ reads empty: nothing can be told from it.
  return env.size > 0 ? env : null;
}

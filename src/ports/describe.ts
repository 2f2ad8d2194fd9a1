/** Human wording for a port's holder, as error messages and `doctor` print it. */
import type { Listener } from "./types.js";

/** `process 1234 (node)`, or `another process (not visible to this user)` when /proc hid its owner. */
export function describeListener(l: Listener): string {
  if (l.pid === undefined) return "another process (not visible to this user)";
  return l.command === undefined ? `process ${l.pid}` : `process ${l.pid} (${l.command})`;
}

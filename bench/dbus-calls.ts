/**
 * How many D-Bus calls a command makes to the user manager: `busctl --user monitor` watches the bus while
 * the command runs once (not timed). The count explains time and memory that grow with the profile count.
 */
import { spawn } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { runOk } from "./exec.js";
import type { SandboxUser } from "../test/helpers/sandbox.js";

const MANAGER = "org.freedesktop.systemd1";
const READY_LINE = "Monitoring bus message stream.";
const POLL_MS = 10;
const DEADLINE_MS = 15_000;

/** Calls by method name (`Get`, `ListUnitsByPatterns`, ...). */
export type CallCounts = Map<string, number>;

interface BusMessage {
  type?: string;
  destination?: string;
  interface?: string;
  member?: string;
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`busctl monitor: ${what} within ${DEADLINE_MS} ms`);
    await delay(POLL_MS);
  }
}

/** Runs `argv` once as `user` while watching the bus; returns the method calls it made to the manager. */
export async function countManagerCalls(user: SandboxUser, argv: readonly string[]): Promise<CallCounts> {
  const monitor = spawn("busctl", ["--user", "monitor", MANAGER, "--json=short"], {
    uid: user.uid,
    gid: user.gid,
    cwd: user.home,
    env: user.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let exited = false;
  monitor.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  monitor.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  const closed = new Promise<void>((resolve) => monitor.on("close", () => resolve()));
  void closed.then(() => (exited = true));
  try {
    await until("no ready line", () => err.includes(READY_LINE) || exited);
    if (exited) throw new Error(`busctl monitor exited: ${err.trim()}`);
    await runOk(user, argv);
    // A call of our own after the command's: once the monitor shows it, it has shown all of the command's.
    await runOk(user, ["busctl", "--user", "call", MANAGER, "/org/freedesktop/systemd1", "org.freedesktop.DBus.Peer", "Ping"]);
    await until("our Ping did not show", () => out.includes('"member":"Ping"'));
  } finally {
    monitor.kill("SIGTERM");
    await closed;
  }
  const counts: CallCounts = new Map();
  for (const line of out.split("\n")) {
    if (!line.startsWith("{")) continue;
    const m = JSON.parse(line) as BusMessage;
    if (m.type !== "method_call" || m.destination !== MANAGER || !m.member) continue;
    if (m.interface === "org.freedesktop.DBus.Peer" && m.member === "Ping") continue;
    counts.set(m.member, (counts.get(m.member) ?? 0) + 1);
  }
  return counts;
}

/** "1201 (Get ×1200, ListUnitsByPatterns ×1)". */
export function describeCalls(counts: CallCounts): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const parts = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([member, n]) => `${member} ×${n}`);
  return `${total}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
}

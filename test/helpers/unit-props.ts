/** A unit's properties as the sandbox user's `systemctl --user show` prints them, for integration tests. */
import assert from "node:assert/strict";
import { spawnCli, type Collected, type Sandbox } from "./sandbox.js";

/** `systemctl --user show UNIT --property=...` as KEY → value. */
export async function showUnit(sb: Sandbox, unit: string, props: string[]): Promise<Record<string, string>> {
  const r = await sb.exec("systemctl", ["--user", "show", unit, ...props.map((p) => `--property=${p}`)]);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** Poll the manager until `pred` holds for the unit's properties, or fail at the deadline. */
export async function waitForUnit(
  sb: Sandbox, unit: string, props: string[], pred: (p: Record<string, string>) => boolean, deadlineMs = 40_000,
): Promise<Record<string, string>> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const p = await showUnit(sb, unit, props);
    if (pred(p)) return p;
    if (Date.now() > deadline) assert.fail(`${unit}: still ${JSON.stringify(p)} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The CLI with `args` spawned, `unit` seen running by the manager under a main PID other than `oldPid` (a
 * gateway that never listens: the command's wait for it goes on), then `signal`; how the command ended.
 */
export async function signalWhenRunning(sb: Sandbox, args: string[], unit: string, signal: NodeJS.Signals, oldPid = "0"): Promise<Collected> {
  const run = spawnCli(sb, args);
  let ended = false;
  void run.done.then(() => (ended = true));
  await waitForUnit(sb, unit, ["ActiveState", "SubState", "MainPID"], (p) => {
    assert.ok(!ended, "the command ended before its unit ran");
    return p.ActiveState === "active" && p.SubState === "running" && p.MainPID !== oldPid;
  });
  run.kill(signal);
  return run.done;
}

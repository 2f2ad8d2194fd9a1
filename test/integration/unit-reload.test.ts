import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only.
const RANGE = "18900-18909";
const CRASHY = "agent-gateway@crashy.service";

let sb: Sandbox;
let initFlags: string[];

async function profiles(args: string[]) {
  return sb.profiles(args, { timeoutMs: 60_000 });
}

/** `profiles ARGS --json`, which must succeed; its result. */
async function ok<T>(args: string[]): Promise<T> {
  const r = await profiles([...args, "--json"]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `profiles init` with this file's flags: whether it found the template changed, and whether it reloaded. */
async function init(): Promise<{ reloaded: boolean; templateChanged: boolean }> {
  const { reloaded, templateChanged } = await ok<{ reloaded: boolean; templateChanged: boolean }>(["init", ...initFlags]);
  return { reloaded, templateChanged };
}

before(async () => {
  sb = await startSandbox();
  const gateway = path.join(sb.appDir, "dist/test/fixtures/style-gateway.js");
  initFlags = ["--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--exec", `${process.execPath} ${gateway}`];
});
after(async () => {
  await sb?.stop();
});

test("init with the same flags again: no unit file changes, so no reload; the sweep timer still runs", async () => {
  assert.deepEqual(await init(), { reloaded: true, templateChanged: true });
  assert.deepEqual(await init(), { reloaded: false, templateChanged: false });
  assert.equal((await showUnit(sb, "agent-profiles-sweep.timer", ["ActiveState"])).ActiveState, "active");
  // Off from here on: a sweep could restart the crash loop below. Removing the units is a change.
  initFlags.push("--no-sweep");
  assert.deepEqual(await init(), { reloaded: true, templateChanged: false });
});

test("a crash loop ends at its start limit although init and limits run in the middle of it", async () => {
  const add = await profiles(["add", "crashy", "--port", "18901", "--env", "API_HOST=127.0.0.1", "--env", "CRASH=1", "--no-start"]);
  assert.equal(add.code, 0, add.stderr);
  const start = await sb.exec("systemctl", ["--user", "start", CRASHY]);
  assert.equal(start.code, 0, start.stderr);
  await waitForUnit(sb, CRASHY, ["NRestarts"], (p) => Number(p.NRestarts) >= 1);
  assert.deepEqual(await init(), { reloaded: false, templateChanged: false });
  const shown = await ok<{ changed: boolean; reloaded: boolean }>(["limits", "crashy"]);
  assert.deepEqual([shown.changed, shown.reloaded], [false, false]);
  // The template's RestartSec=2 leaves some 8 s between the first restart and the fifth.
  const mid = await showUnit(sb, CRASHY, ["ActiveState", "NRestarts"]);
  assert.ok(mid.ActiveState !== "failed" && Number(mid.NRestarts) < 5, `the commands ran after the loop ended: ${JSON.stringify(mid)}`);
  // A reload would have reset the start-limit count: the loop would go on past 5 restarts.
  const end = await waitForUnit(sb, CRASHY, ["ActiveState", "Result", "NRestarts"], (p) => p.ActiveState === "failed");
  assert.equal(end.NRestarts, "5", JSON.stringify(end));
});

test("a real change still reloads: new limits and a new template are in force; a touched template reloads too", async () => {
  const set = await ok<{ changed: boolean; reloaded: boolean }>(["limits", "crashy", "--restart-sec", "1"]);
  assert.deepEqual([set.changed, set.reloaded], [true, true]);
  assert.equal((await showUnit(sb, CRASHY, ["RestartUSec"])).RestartUSec, "1s");
  initFlags.push("--stop-timeout", "20");
  assert.deepEqual(await init(), { reloaded: true, templateChanged: true });
  assert.equal((await showUnit(sb, CRASHY, ["TimeoutStopUSec"])).TimeoutStopUSec, "20s");
  // Same bytes, newer mtime (a hand edit undone, say): the manager asks for a reload, and init gives it one.
  const template = path.join(sb.home, ".config/systemd/user/agent-gateway@.service");
  assert.equal((await sb.exec("touch", [template])).code, 0);
  assert.equal((await showUnit(sb, CRASHY, ["NeedDaemonReload"])).NeedDaemonReload, "yes");
  assert.deepEqual(await init(), { reloaded: true, templateChanged: false });
  assert.equal((await showUnit(sb, CRASHY, ["NeedDaemonReload"])).NeedDaemonReload, "no");
  assert.deepEqual(await init(), { reloaded: false, templateChanged: false });
});

import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";
import { hasStopped } from "../helpers/proc-readings.js";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only: 19100-19119.
const RANGE = "19100-19118";
const WEBHOOK_PORT = 19119;

let sb: Sandbox;
const profiles = (args: string[], timeoutMs = 60_000) => sb.profiles(args, { timeoutMs });
const json = <T>(r: { stdout: string }): T => JSON.parse(r.stdout) as T;

interface ListRow { name: string; activeState: string; enabled: boolean; disabled: boolean }
interface Verdict { name: string; healthy: boolean; disabled: boolean; condition: string; action?: unknown }

before(async () => {
  sb = await startSandbox();
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"]);
  assert.equal(init.code, 0, init.stderr);
  for (const n of ["kept", "down"]) {
    const r = await profiles(["add", n]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await sb?.stop();
});

async function listRows(): Promise<Record<string, ListRow>> {
  const r = await profiles(["list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(json<ListRow[]>(r).map((x) => [x.name, x]));
}

test("disable keeps a profile down: shown as disabled, not unhealthy; start refuses it; the sweep and a manager restart leave it down; enable brings it back gated", async () => {
  const off = await profiles(["disable", "down", "--json"]);
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(await showUnit(sb, "agent-gateway@down.service", ["ActiveState", "UnitFileState"]), { ActiveState: "inactive", UnitFileState: "disabled" });

  let rows = await listRows();
  assert.deepEqual([rows.down!.activeState, rows.down!.enabled, rows.down!.disabled], ["inactive", false, true]);
  assert.deepEqual([rows.kept!.enabled, rows.kept!.disabled], [true, false]);
  assert.match((await profiles(["list"])).stdout, /^down\s+\d+\s+disabled\s/m);

  // health and status: disabled, and exit 0 (the other profile is healthy).
  const h = await profiles(["health", "--json"]);
  assert.equal(h.code, 0, h.stdout + h.stderr);
  const hv = Object.fromEntries(json<Verdict[]>(h).map((v) => [v.name, v]));
  assert.deepEqual([hv.down!.condition, hv.down!.disabled, hv.down!.healthy], ["disabled", true, false]);
  assert.match((await profiles(["health"])).stdout, /^down\s.*\sdisabled$/m);
  assert.equal((await profiles(["status"])).code, 0);

  // start refuses it, naming the way back, and starts nothing; so does restart.
  for (const verb of ["start", "restart"]) {
    const s = await profiles([verb, "kept", "down"]);
    assert.equal(s.code, 2, `${verb}: ${s.stderr}`);
    assert.match(s.stderr, /profile "down" is disabled[\s\S]*profiles enable down/);
  }
  assert.equal((await showUnit(sb, "agent-gateway@down.service", ["ActiveState"])).ActiveState, "inactive");

  // The sweep with --restart-unhealthy and a webhook: down is left alone, nobody is alerted.
  let posts = 0;
  const hook = http.createServer((req, res) => {
    posts++;
    req.resume();
    res.writeHead(204).end();
  });
  hook.listen(WEBHOOK_PORT, "127.0.0.1");
  await once(hook, "listening");
  try {
    const sw = await profiles(["sweep", "--restart-unhealthy", "--json", "--webhook", `http://127.0.0.1:${WEBHOOK_PORT}/hook`]);
    assert.equal(sw.code, 0, sw.stdout + sw.stderr);
    const out = json<{ unhealthy: number; disabled: number; restartAttempts: number; webhook: unknown; profiles: Verdict[] }>(sw);
    assert.deepEqual([out.unhealthy, out.disabled, out.restartAttempts, out.webhook], [0, 1, 0, null]);
    const down = out.profiles.find((p) => p.name === "down")!;
    assert.deepEqual([down.condition, down.action], ["disabled", null]);
    assert.match((await profiles(["sweep", "--restart-unhealthy"])).stdout, /1 of 2 healthy, 1 disabled, 0 restart\(s\)/);
  } finally {
    hook.close();
  }
  assert.equal(posts, 0, "the webhook was called for a disabled profile");
  assert.equal((await showUnit(sb, "agent-gateway@down.service", ["ActiveState"])).ActiveState, "inactive");

  // doctor's unit check passes and names it.
  const doc = json<{ checks: { id: string; status: string; message: string }[] }>(await profiles(["doctor", "--json"]));
  const units = doc.checks.find((c) => c.id === "units")!;
  assert.equal(units.status, "ok", JSON.stringify(units));
  assert.match(units.message, /1 disabled: kept down by `profiles disable`/);

  // A manager restart starts what is enabled (default.target), not the disabled one.
  const old = sb.managerPid;
  process.kill(old, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (!hasStopped(old)) {
    assert.ok(Date.now() < deadline, "the manager did not exit on SIGTERM");
    await new Promise((r) => setTimeout(r, 50));
  }
  await sb.restartManager();
  await waitForUnit(sb, "agent-gateway@kept.service", ["ActiveState", "SubState"], (p) => p.ActiveState === "active" && p.SubState === "running");
  // The manager has started default.target's wants by now (kept is running): down was not among them.
  await waitForUnit(sb, "default.target", ["ActiveState"], (p) => p.ActiveState === "active");
  assert.deepEqual(await showUnit(sb, "agent-gateway@down.service", ["ActiveState", "UnitFileState"]), { ActiveState: "inactive", UnitFileState: "disabled" });
  rows = await listRows();
  assert.equal(rows.down!.disabled, true);

  // enable: enabled, started through the gate, healthy and marked known-good.
  const on = await profiles(["enable", "down", "--json"]);
  assert.equal(on.code, 0, on.stderr);
  const [o] = json<{ name: string; ok: boolean; pid: number; knownGood: { generation: number | null } }[]>(on);
  assert.equal(o!.ok, true);
  assert.ok(o!.pid > 0);
  assert.deepEqual(await showUnit(sb, "agent-gateway@down.service", ["ActiveState", "UnitFileState", "MainPID"]), { ActiveState: "active", UnitFileState: "enabled", MainPID: String(o!.pid) });
  rows = await listRows();
  assert.deepEqual([rows.down!.enabled, rows.down!.disabled], [true, false]);
  const again = await profiles(["health", "down", "--json"]);
  assert.equal(again.code, 0, again.stdout);
  assert.equal(json<Verdict[]>(again)[0]!.healthy, true);
});

test("enable of a gateway that cannot become healthy: exit 7, and it stays enabled (the sweep may repair it)", async () => {
  assert.equal((await profiles(["disable", "kept"])).code, 0);
  // The reference gateway refuses a non-loopback HOST without API_KEY (exit 78): it never becomes healthy.
  const set = await profiles(["set", "kept", "HOST=0.0.0.0"]);
  assert.equal(set.code, 0, set.stderr);
  const on = await profiles(["enable", "kept", "--wait", "3"]);
  assert.equal(on.code, 7, on.stdout + on.stderr);
  assert.match(on.stdout, /FAILED/);
  assert.equal((await showUnit(sb, "agent-gateway@kept.service", ["UnitFileState"])).UnitFileState, "enabled");
  const bad = await profiles(["disable", "nosuch"]);
  assert.equal(bad.code, 3, bad.stderr);
});

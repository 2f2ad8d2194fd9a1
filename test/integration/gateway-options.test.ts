import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only (18850-18859 of the gateway-styles range).
const RANGE = "18850-18859";

let sb: Sandbox;
let gateway: string;

async function profiles(args: string[], timeoutMs = 60_000) {
  return sb.profiles(args, { timeoutMs });
}

function json<T>(out: { stdout: string }): T {
  return JSON.parse(out.stdout) as T;
}

async function get(port: number, host = "127.0.0.1"): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as Record<string, unknown>;
}

before(async () => {
  sb = await startSandbox();
  gateway = path.join(sb.appDir, "dist/test/fixtures/style-gateway.js");
});
after(async () => {
  await sb?.stop();
});

test("init --exec with ${PORT} as a flag and --host-var: the port reaches the gateway, the probe goes to its host", async () => {
  const init = await profiles([
    "init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep",
    "--exec", `${process.execPath} ${gateway} --port \${PORT} --host-var API_HOST`, "--host-var", "API_HOST", "--stop-timeout", "20", "--json",
  ]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(json<{ execStart: string }>(init).execStart, / --port \$\{PORT\} --host-var API_HOST$/);
  // HOST points nowhere: only a probe that follows API_HOST can pass.
  const add = await profiles(["add", "flag1", "--port", "18851", "--env", "API_HOST=127.0.0.2", "--env", "HOST=192.0.2.1"]);
  assert.equal(add.code, 0, add.stderr);
  const body = await get(18851, "127.0.0.2");
  assert.equal(body.port, 18851);
  assert.equal(body.profile, "flag1");
  const unit = await showUnit(sb, "agent-gateway@flag1.service", ["TimeoutStopUSec", "Type", "ExecReload"]);
  assert.equal(unit.TimeoutStopUSec, "20s");
  assert.equal(unit.Type, "simple");
  // A second profile on another port: the same template, its own ${PORT}.
  const second = await profiles(["add", "flag2", "--env", "API_HOST=127.0.0.1", "--json"]);
  assert.equal(second.code, 0, second.stderr);
  const port = json<{ port: number }>(second).port;
  assert.equal((await get(port)).port, port);
  assert.equal((await profiles(["status", "--json"])).code, 0);
});

test("init: bad gateway options exit 2 and change nothing", async () => {
  const before = await snapshot(path.join(sb.home, ".config"));
  for (const bad of [["--service-type", "forking"], ["--stop-timeout", "0"], ["--reload-signal", "KILL"], ["--host-var", "A-B"], ["--exec", `${process.execPath} ${gateway} --port \${PORT:-1}`]]) {
    const r = await profiles(["init", ...bad]);
    assert.equal(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(bad[0]!));
  }
  assert.deepEqual(await snapshot(path.join(sb.home, ".config")), before);
});

test("crash loop: status says what happened after start-limit-hit, and start works again once fixed", async () => {
  const add = await profiles(["add", "crashy", "--port", "18855", "--env", "API_HOST=127.0.0.1", "--env", "CRASH=1", "--no-start"]);
  assert.equal(add.code, 0, add.stderr);
  // A short RestartSec for this instance only, so the start limit comes in a second rather than ten.
  const dropin = path.join(sb.home, ".config/systemd/user/agent-gateway@crashy.service.d");
  assert.equal((await sb.exec("sh", ["-c", 'mkdir -p "$1" && printf "[Service]\\nRestartSec=100ms\\n" > "$1/fast.conf" && systemctl --user daemon-reload', "sh", dropin])).code, 0);
  const start = await profiles(["start", "crashy", "--wait", "20"]);
  assert.equal(start.code, 7, start.stderr);
  await waitForUnit(sb, "agent-gateway@crashy.service", ["ActiveState", "NRestarts"], (p) => p.ActiveState === "failed" && Number(p.NRestarts) >= 5);
  const status = await profiles(["status", "crashy", "--json"]);
  assert.equal(status.code, 7);
  const s = json<{ activeState: string; condition: string; lastExit: string; restarts: number; health: { ok: boolean; reason: string } }>(status);
  assert.equal(s.activeState, "failed");
  assert.equal(s.condition, "start-limit-hit");
  assert.equal(s.lastExit, "exited 3");
  assert.equal(s.restarts, 5);
  assert.equal(s.health.reason, "unit hit its start limit: restarted 5 times, last exited with status 3");
  const text = await profiles(["status", "crashy"]);
  assert.match(text.stdout, /crashy: health unit hit its start limit: restarted 5 times, last exited with status 3, last exit: exited 3/);
  // Fix the cause; `start` resets the failed state first, so the start limit does not refuse it.
  assert.equal((await profiles(["set", "crashy", "CRASH=0"])).code, 0);
  const again = await profiles(["start", "crashy"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await get(18855)).profile, "crashy");
  assert.equal((await showUnit(sb, "agent-gateway@crashy.service", ["ActiveState"])).ActiveState, "active");
});

test("limits: in force as the manager reports them, shown by status, and restored by a rollback", async () => {
  const add = await profiles(["add", "lim", "--port", "18856", "--env", "API_HOST=127.0.0.1"]);
  assert.equal(add.code, 0, add.stderr);
  const set = await profiles(["limits", "lim", "--memory-max", "256M", "--cpu-quota", "50%", "--tasks-max", "64", "--restart-sec", "1", "--json"]);
  assert.equal(set.code, 0, set.stderr);
  const unit = "agent-gateway@lim.service";
  const props = ["MemoryMax", "CPUQuotaPerSecUSec", "TasksMax", "RestartUSec"];
  assert.deepEqual(await showUnit(sb, unit, props), { MemoryMax: String(256 * 1024 ** 2), CPUQuotaPerSecUSec: "500ms", TasksMax: "64", RestartUSec: "1s" });
  assert.deepEqual(json<{ inForce: unknown }>(set).inForce, { MemoryMax: 256 * 1024 ** 2, CPUQuotaPerSecUSec: 500_000, TasksMax: 64, RestartUSec: 1_000_000 });
  const dropIn = path.join(sb.home, ".config/systemd/user/agent-gateway@lim.service.d/50-limits.conf");
  assert.equal((await sb.exec("stat", ["-c", "%a", dropIn])).stdout.trim(), "644");
  const status = await profiles(["status", "lim", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(json<{ limits: unknown }>(status).limits, { MemoryMax: 256 * 1024 ** 2, CPUQuotaPerSecUSec: 500_000, TasksMax: 64, RestartUSec: 1_000_000 });
  assert.match((await profiles(["status", "lim"])).stdout, /lim: health ok\n  limits: memory 256M, cpu 50%, tasks 64, restart after 1s/);
  const gen = json<{ generations: { number: number }[]; current: number }>(await profiles(["history", "lim", "--json"])).current;

  assert.equal((await profiles(["limits", "lim", "--memory-max", "128M", "--tasks-max", ""])).code, 0);
  const changed = await showUnit(sb, unit, props);
  assert.equal(changed.MemoryMax, String(128 * 1024 ** 2));
  assert.notEqual(changed.TasksMax, "64");
  // A bad value: exit 2, the drop-in and the manager's view unchanged.
  const bad = await profiles(["limits", "lim", "--memory-max", "lots"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--memory-max "lots" must be a size/);
  assert.equal((await showUnit(sb, unit, props)).MemoryMax, String(128 * 1024 ** 2));

  const rb = await profiles(["rollback", "lim", "--to", String(gen)]);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(await showUnit(sb, unit, props), { MemoryMax: String(256 * 1024 ** 2), CPUQuotaPerSecUSec: "500ms", TasksMax: "64", RestartUSec: "1s" });
  assert.equal(json<{ limits: { MemoryMax: number } }>(await profiles(["status", "lim", "--json"])).limits.MemoryMax, 256 * 1024 ** 2);
});

test("ps: the unit's processes, a detached child included; stop leaves none behind and lets the gateway save its state", async () => {
  const ckpt = path.join(sb.home, "ckpt");
  assert.equal((await sb.exec("mkdir", ["-p", ckpt])).code, 0);
  const add = await profiles(["add", "kids", "--port", "18857", "--env", "API_HOST=127.0.0.1", "--env", "DETACH_CHILD=1", "--env", `CHECKPOINT_DIR=${ckpt}`]);
  assert.equal(add.code, 0, add.stderr);
  const body = await get(18857);
  const child = body.child as number;
  assert.ok(child > 0);
  const ps = await profiles(["ps", "kids", "--json"]);
  assert.equal(ps.code, 0, ps.stderr);
  const out = json<{ mainPid: number; controlGroup: string; processes: { pid: number; sid: number; main: boolean; command: string }[] }>(ps);
  assert.match(out.controlGroup, /agent-gateway@kids\.service$/);
  assert.deepEqual(out.processes.map((p) => p.pid).sort(), [out.mainPid, child].sort());
  const main = out.processes.find((p) => p.main)!;
  const kid = out.processes.find((p) => p.pid === child)!;
  assert.equal(main.pid, body.pid);
  assert.notEqual(kid.sid, main.sid, "the child runs in a session of its own");
  assert.match((await profiles(["ps", "kids"])).stdout, /kids: 2 process\(es\) in .*agent-gateway@kids\.service \(\* main\)/);

  const stop = await profiles(["stop", "kids"]);
  assert.equal(stop.code, 0, stop.stderr);
  const after = await profiles(["ps", "kids", "--json"]);
  assert.deepEqual(json<{ processes: unknown[] }>(after).processes, []);
  assert.match((await profiles(["ps", "kids"])).stdout, /kids: no processes/);
  for (const pid of [main.pid, child]) {
    const cg = await sb.exec("cat", [`/proc/${pid}/cgroup`]);
    assert.ok(cg.code !== 0 || !cg.stdout.includes("agent-gateway@kids.service"), `pid ${pid} is still in the unit`);
  }
  const saved = await sb.exec("cat", [path.join(ckpt, "kids.checkpoint")]);
  assert.equal(saved.code, 0, "the checkpoint was written on SIGTERM");
  assert.equal(JSON.parse(saved.stdout).pid, main.pid);
  const bad = await profiles(["ps", "nosuch"]);
  assert.equal(bad.code, 3);
});

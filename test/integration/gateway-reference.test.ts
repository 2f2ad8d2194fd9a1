import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit } from "../helpers/unit-props.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only (18860-18869 of the gateway-styles range).
const RANGE = "18860-18869";

let sb: Sandbox;

async function profiles(args: string[], timeoutMs = 60_000) {
  return sb.profiles(args, { timeoutMs });
}

function json<T>(out: { stdout: string }): T {
  return JSON.parse(out.stdout) as T;
}

async function root(port: number): Promise<{ greeting: string; logLevel: string; profile: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as { greeting: string; logLevel: string; profile: string };
}

before(async () => {
  sb = await startSandbox();
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"]);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  await sb?.stop();
});

test("reload: refused (exit 2, nothing changed) while the template has no reload command", async () => {
  const add = await profiles(["add", "r1", "--port", "18861", "--env", "GREETING=hello"]);
  assert.equal(add.code, 0, add.stderr);
  const before = await snapshot(path.join(sb.home, ".config"));
  const pid = (await showUnit(sb, "agent-gateway@r1.service", ["MainPID"])).MainPID;
  const r = await profiles(["reload", "r1"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /no reload command \(ExecReload=\)/);
  assert.match(r.stderr, /profiles init --reload-signal HUP/);
  const rr = await profiles(["roll", "--reload"]);
  assert.equal(rr.code, 2, rr.stderr);
  assert.deepEqual(await snapshot(path.join(sb.home, ".config")), before);
  assert.equal((await showUnit(sb, "agent-gateway@r1.service", ["MainPID"])).MainPID, pid);
});

test("reload: the reference gateway re-reads its .env on SIGHUP; new value served, PID unchanged", async () => {
  const init = await profiles(["init", "--reload-signal", "HUP"]);
  assert.equal(init.code, 0, init.stderr);
  // The running unit keeps its loaded definition until restarted; the new template applies from then on.
  assert.equal((await profiles(["restart", "r1"])).code, 0);
  assert.equal((await root(18861)).greeting, "hello");
  const pid = (await showUnit(sb, "agent-gateway@r1.service", ["MainPID"])).MainPID;
  assert.equal((await profiles(["set", "r1", "GREETING=bonjour", "LOG_LEVEL=debug"])).code, 0);
  assert.equal((await root(18861)).greeting, "hello", "a set alone does not reach the running gateway");
  const r = await profiles(["reload", "r1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const [out] = json<{ ok: boolean; pid: number; pidBefore: number }[]>(r);
  assert.equal(out?.pid, Number(pid));
  assert.equal(out?.pidBefore, Number(pid));
  const after = await root(18861);
  assert.equal(after.greeting, "bonjour");
  assert.equal(after.logLevel, "debug");
  assert.equal((await showUnit(sb, "agent-gateway@r1.service", ["MainPID"])).MainPID, pid);
  // A port change cannot apply in place: the gateway keeps serving and says so in its log.
  assert.equal((await profiles(["set", "r1", "PORT=18862"])).code, 0);
  assert.equal((await profiles(["reload", "r1"])).code, 7, "the probe now goes to 18862, where nothing listens yet");
  const log = await sb.exec("cat", [path.join(sb.home, "logs/r1.log")]);
  assert.match(log.stdout, /PORT changed: that needs a restart \(`profiles restart r1`\)/);
  assert.equal((await profiles(["restart", "r1"])).code, 0);
  assert.equal((await root(18862)).greeting, "bonjour");
});

test("roll --reload: every profile reloaded and gated, PIDs unchanged", async () => {
  const add = await profiles(["add", "r2", "--port", "18863", "--env", "GREETING=one"]);
  assert.equal(add.code, 0, add.stderr);
  const pids = await Promise.all(["r1", "r2"].map(async (n) => (await showUnit(sb, `agent-gateway@${n}.service`, ["MainPID"])).MainPID));
  for (const n of ["r1", "r2"]) assert.equal((await profiles(["set", n, `GREETING=rolled-${n}`])).code, 0);
  const r = await profiles(["roll", "--reload", "--min-healthy-time", "0.5", "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal((await root(18862)).greeting, "rolled-r1");
  assert.equal((await root(18863)).greeting, "rolled-r2");
  const after = await Promise.all(["r1", "r2"].map(async (n) => (await showUnit(sb, `agent-gateway@${n}.service`, ["MainPID"])).MainPID));
  assert.deepEqual(after, pids);
});

/** Poll the unit for `ms`, failing as soon as `ok` does not hold: it must stay so the whole time. */
async function holds(unit: string, props: string[], ms: number, ok: (p: Record<string, string>) => string | null): Promise<Record<string, string>[]> {
  const seen: Record<string, string>[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const p = await showUnit(sb, unit, props);
    const bad = ok(p);
    if (bad) assert.fail(`${unit}: ${bad} (${JSON.stringify(p)})`);
    seen.push(p);
    await new Promise((r) => setTimeout(r, 200));
  }
  return seen;
}

test("notify: the reference gateway as Type=notify is active once it listens, and stays so under a watchdog", async () => {
  const init = await profiles(["init", "--service-type", "notify", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal(json<{ serviceType: string }>(init).serviceType, "notify");
  const add = await profiles(["add", "n1", "--port", "18864"]);
  assert.equal(add.code, 0, add.stderr);
  const p = await showUnit(sb, "agent-gateway@n1.service", ["Type", "ActiveState", "SubState", "StatusText", "NRestarts"]);
  assert.deepEqual([p.Type, p.ActiveState, p.SubState, p.NRestarts], ["notify", "active", "running", "0"]);
  assert.equal(p.StatusText, "listening on http://127.0.0.1:18864");
  // WatchdogSec=1: without a WATCHDOG=1 ping every second the manager would kill it and restart it.
  const dropin = path.join(sb.home, ".config/systemd/user/agent-gateway@n1.service.d");
  assert.equal((await sb.exec("sh", ["-c", 'mkdir -p "$1" && printf "[Service]\\nWatchdogSec=1\\n" > "$1/watchdog.conf" && systemctl --user daemon-reload', "sh", dropin])).code, 0);
  assert.equal((await profiles(["restart", "n1"])).code, 0);
  const pid = (await showUnit(sb, "agent-gateway@n1.service", ["MainPID"])).MainPID;
  const seen = await holds("agent-gateway@n1.service", ["ActiveState", "NRestarts", "MainPID", "WatchdogUSec", "WatchdogTimestampMonotonic"], 3000, (q) =>
    q.ActiveState !== "active" ? "not active" : q.NRestarts !== "0" ? "restarted" : q.MainPID !== pid ? "PID changed" : null,
  );
  assert.equal(seen[0]?.WatchdogUSec, "1s");
  assert.ok(new Set(seen.map((q) => q.WatchdogTimestampMonotonic)).size >= 3, "the watchdog timestamp moves: pings arrive");
});

test("notify: a slow gateway is waited for; one that never sends READY=1 fails add with that reason", async () => {
  const gateway = path.join(sb.appDir, "dist/test/fixtures/style-gateway.js");
  const init = await profiles(["init", "--exec", `${process.execPath} ${gateway} --notify`]);
  assert.equal(init.code, 0, init.stderr);
  const t0 = Date.now();
  const slow = await profiles(["add", "slow", "--port", "18865", "--env", "READY_AFTER_MS=2000"]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.ok(Date.now() - t0 >= 2000);
  assert.equal((await showUnit(sb, "agent-gateway@slow.service", ["ActiveState"])).ActiveState, "active");
  const never = await profiles(["add", "never", "--port", "18866", "--env", "NEVER_READY=1", "--wait", "3"]);
  assert.equal(never.code, 7, never.stderr);
  assert.match(never.stderr, /never: not ready within 3 s: the start job did not finish \(last seen: activating\/start\): the unit is Type=notify and the gateway never sent READY=1/);
  assert.equal((await profiles(["remove", "never", "--purge"])).code, 0);
});

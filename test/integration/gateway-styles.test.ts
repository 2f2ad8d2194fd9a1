/**
 * The gateway styles people run, each as several profiles under one sandbox, one style after another
 * (the template is per user): set up with `profiles init`, rolled health-gated, stopped cleanly.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit } from "../helpers/unit-props.js";

// Ports of this file only (18870-18899 of the gateway-styles range).
const RANGE = "18870-18899";

let sb: Sandbox;
let gateway: string;

async function profiles(args: string[], timeoutMs = 90_000) {
  const r = await sb.profiles(args, { timeoutMs });
  return r;
}

async function ok(args: string[]): Promise<string> {
  const r = await profiles(args);
  assert.equal(r.code, 0, `profiles ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function health(port: number): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

async function show(unit: string, prop: string): Promise<string> {
  return (await showUnit(sb, unit, [prop]))[prop] ?? "";
}

/** Add `names` on `ports`, roll them health-gated (PIDs change), stop them (nothing left), remove them. */
async function exercise(names: string[], ports: number[], env: string[], rollFlags: string[] = []): Promise<void> {
  for (const [i, name] of names.entries()) {
    await ok(["add", name, "--port", String(ports[i]), ...env.flatMap((e) => ["--env", e])]);
    assert.equal((await health(ports[i]!)).port, ports[i]);
  }
  const before = await Promise.all(names.map((n) => show(`agent-gateway@${n}.service`, "MainPID")));
  const roll = await profiles(["roll", ...names, "--min-healthy-time", "0.5", "--healthy-deadline", "20", "--json", ...rollFlags]);
  assert.equal(roll.code, 0, roll.stderr + roll.stdout);
  const afterRoll = await Promise.all(names.map((n) => show(`agent-gateway@${n}.service`, "MainPID")));
  for (const [i, pid] of afterRoll.entries()) {
    if (rollFlags.includes("--reload")) assert.equal(pid, before[i]);
    else assert.notEqual(pid, before[i]);
    assert.equal((await health(ports[i]!)).pid, Number(pid));
  }
  await ok(["stop", ...names]);
  for (const n of names) {
    assert.equal(await show(`agent-gateway@${n}.service`, "ActiveState"), "inactive");
    assert.deepEqual(JSON.parse(await ok(["ps", n, "--json"])).processes, []);
  }
}

async function removeAll(names: string[]): Promise<void> {
  for (const n of names) await ok(["remove", n, "--purge"]);
}

before(async () => {
  sb = await startSandbox();
  gateway = `${process.execPath} ${path.join(sb.appDir, "dist/test/fixtures/style-gateway.js")}`;
});
after(async () => {
  await sb?.stop();
});

test("Astromesh-style: --port flag, Type=notify, SIGHUP reload, a drain on SIGTERM", async () => {
  await ok([
    "init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep",
    "--exec", `${gateway} --notify --port \${PORT} --pid-file %t/astromesh-%i.pid --drain-ms 300`,
    "--service-type", "notify", "--reload-signal", "HUP", "--stop-timeout", "40",
  ]);
  const names = ["astro1", "astro2", "astro3"];
  const ports = [18870, 18871, 18872];
  for (const [i, name] of names.entries()) await ok(["add", name, "--port", String(ports[i]), "--env", "GREETING=v1"]);
  assert.equal(await show("agent-gateway@astro1.service", "Type"), "notify");
  const pidFile = await sb.exec("sh", ["-c", 'cat "$XDG_RUNTIME_DIR/astromesh-astro1.pid"']);
  assert.equal(pidFile.stdout.trim(), await show("agent-gateway@astro1.service", "MainPID"));
  // New settings by SIGHUP, one profile after another, gated; the processes stay.
  for (const n of names) await ok(["set", n, "GREETING=v2"]);
  const before = await Promise.all(names.map((n) => show(`agent-gateway@${n}.service`, "MainPID")));
  const roll = await profiles(["roll", "--reload", "--min-healthy-time", "0.5", "--json"]);
  assert.equal(roll.code, 0, roll.stderr);
  for (const [i, port] of ports.entries()) {
    const h = await health(port);
    assert.equal(h.greeting, "v2");
    assert.equal(String(h.pid), before[i]);
  }
  await removeAll(names);
  await exercise(["astro1", "astro2"], [18873, 18874], []);
  await removeAll(["astro1", "astro2"]);
});

test("Hermes-style: port and host from API_SERVER_PORT/API_SERVER_HOST, a key in API_SERVER_KEY", async () => {
  await ok(["init", "--exec", `${gateway} --port-var API_SERVER_PORT --host-var API_SERVER_HOST`, "--port-var", "API_SERVER_PORT", "--host-var", "API_SERVER_HOST", "--service-type", "simple", "--reload-signal", ""]);
  await exercise(["hermes1", "hermes2", "hermes3"], [18876, 18877, 18878], ["API_SERVER_HOST=127.0.0.1", "API_SERVER_KEY=s3cret"]);
  const env = await ok(["env", "hermes1"]);
  assert.match(env, /^API_SERVER_KEY=\*{8}$/m);
  await removeAll(["hermes1", "hermes2", "hermes3"]);
});

test("slow starter: 2 s before it listens; add and roll wait for it", async () => {
  await ok(["init", "--exec", `${gateway} --ready-after 2000`, "--port-var", "PORT", "--host-var", "HOST"]);
  const t0 = Date.now();
  await exercise(["slow1", "slow2"], [18880, 18881], []);
  assert.ok(Date.now() - t0 >= 8000, "two adds and two restarts of 2 s each");
  await removeAll(["slow1", "slow2"]);
});

test("long-running agent: saves a checkpoint on SIGTERM within its stop timeout, under a memory limit", async () => {
  const ckpt = path.join(sb.home, "checkpoints");
  assert.equal((await sb.exec("mkdir", ["-p", ckpt])).code, 0);
  await ok(["init", "--exec", `${gateway} --drain-ms 500`, "--stop-timeout", "30"]);
  const names = ["agent1", "agent2"];
  const ports = [18885, 18886];
  for (const [i, n] of names.entries()) {
    await ok(["add", n, "--port", String(ports[i]), "--env", `CHECKPOINT_DIR=${ckpt}`]);
    await ok(["limits", n, "--memory-max", "256M", "--restart-sec", "1"]);
    assert.equal(await show(`agent-gateway@${n}.service`, "MemoryMax"), String(256 * 1024 ** 2));
  }
  const pids = await Promise.all(names.map((n) => show(`agent-gateway@${n}.service`, "MainPID")));
  await ok(["roll", ...names, "--min-healthy-time", "0.5"]);
  // The roll's restarts stopped each gateway with SIGTERM: each saved its state first.
  for (const [i, n] of names.entries()) {
    const saved = await sb.exec("cat", [path.join(ckpt, `${n}.checkpoint`)]);
    assert.equal(saved.code, 0, `${n}: no checkpoint after the roll`);
    assert.equal(String(JSON.parse(saved.stdout).pid), pids[i]);
  }
  const running = await Promise.all(names.map((n) => show(`agent-gateway@${n}.service`, "MainPID")));
  await ok(["stop", ...names]);
  for (const [i, n] of names.entries()) {
    assert.equal(await show(`agent-gateway@${n}.service`, "Result"), "success");
    const saved = await sb.exec("cat", [path.join(ckpt, `${n}.checkpoint`)]);
    assert.equal(String(JSON.parse(saved.stdout).pid), running[i], `${n}: the checkpoint is from the last process`);
  }
  await removeAll(names);
});

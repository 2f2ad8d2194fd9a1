import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { spawnCli, startSandbox, userPaths, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, signalWhenRunning, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only.
const RANGE = "18920-18929";

let sb: Sandbox;

before(async () => {
  sb = await startSandbox();
  const gateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
  const init = await sb.profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep", "--reload-signal", "HUP", "--stop-timeout", "5", "--exec", `node ${gateway}`]);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  await sb?.stop();
});

interface Gen {
  number: number;
  knownGood: boolean;
}

/** `args` spawned, slow's unit seen running under a main PID other than `oldPid`, then `signal`. */
const interruptedWhileWaiting = (args: string[], signal: NodeJS.Signals, oldPid = "0") => signalWhenRunning(sb, args, "agent-gateway@slow.service", signal, oldPid);

const mainPid = async (): Promise<string> => (await showUnit(sb, "agent-gateway@slow.service", ["MainPID"])).MainPID!;
const generations = async (name: string): Promise<Gen[]> => (JSON.parse((await sb.profiles(["history", name, "--json"])).stdout) as { generations: Gen[] }).generations;

test("Ctrl-C while add waits for health: exit 130, the profile is kept and enabled, its generation not known-good, its lock gone", async () => {
  const r = await interruptedWhileWaiting(["add", "slow", "--port", "18920", "--env", "NEVER_LISTEN=1", "--wait", "120"], "SIGINT");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /SIGINT: stopping once the step under way is done/);
  assert.match(r.stderr, /slow: SIGINT stopped the wait for its start, which goes on in the manager; not marked known-good \(added on port 18920 as generation 1\)/);
  assert.match(r.stderr, /next: run `profiles status slow`/);

  const list = JSON.parse((await sb.profiles(["list", "--json"])).stdout) as { name: string; port: number; enabled: boolean }[];
  assert.deepEqual(list.map((p) => [p.name, p.port, p.enabled]), [["slow", 18920, true]]);
  assert.deepEqual((await generations("slow")).map((g) => [g.number, g.knownGood]), [[1, false]]);
  const locks = await fs.readdir(userPaths(sb).locksDir);
  assert.ok(!locks.includes("profile-slow.lock"), `locks left: ${locks.join(", ")}`);
});

test("SIGTERM while restart waits for health: exit 143, and the next command on the profile finds it free", async () => {
  const stopped = await sb.profiles(["stop", "slow"]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const r = await interruptedWhileWaiting(["restart", "slow", "--wait", "120"], "SIGTERM");
  assert.equal(r.code, 143, r.stdout + r.stderr);
  assert.match(r.stderr, /slow: SIGTERM stopped the wait for its restart, which goes on in the manager; not marked known-good/);
  const locks = await fs.readdir(userPaths(sb).locksDir);
  assert.ok(!locks.includes("profile-slow.lock"), `locks left: ${locks.join(", ")}`);
  const stop = await sb.profiles(["stop", "slow"]);
  assert.equal(stop.code, 0, stop.stderr);
  const gens = await generations("slow");
  assert.ok(gens.every((g) => !g.knownGood), JSON.stringify(gens));
});

test("Ctrl-C during the second profile of `start a b`: the message says what became of the first", async () => {
  const add = await sb.profiles(["add", "quick", "--port", "18921"]);
  assert.equal(add.code, 0, add.stderr);
  const stopped = await sb.profiles(["stop", "quick", "slow"]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const r = await interruptedWhileWaiting(["start", "quick", "slow", "--wait", "120"], "SIGINT");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /slow: SIGINT stopped the wait for its start, which goes on in the manager; not marked known-good \(before it: quick done\)/);
  assert.equal((await generations("quick"))[0]!.knownGood, true);
});

test("Ctrl-C while set --restart waits: exit 130, the change kept as its generation and not known-good", async () => {
  const r = await interruptedWhileWaiting(["set", "slow", "COLOUR=blue", "--restart", "--wait", "120"], "SIGINT", await mainPid());
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /slow: SIGINT stopped the wait for its restart, which goes on in the manager; not marked known-good \(the change is kept as generation 2\)/);
  const env = await fs.readFile(path.join(userPaths(sb).profilesDir, "slow", ".env"), "utf8");
  assert.match(env, /^COLOUR="?blue"?$/m);
  assert.deepEqual((await generations("slow")).map((g) => [g.number, g.knownGood]), [[2, false], [1, false]]);
});

/** How many lines of `file` hold `text`; a gateway's lines go there (init --log-dir). */
async function logged(file: string, text: string): Promise<number> {
  return (await fs.readFile(file, "utf8").catch(() => "")).split("\n").filter((l) => l.includes(text)).length;
}

/** Polls `file` until more than `before` of its lines hold `text`. */
async function untilLogged(file: string, text: string, before = 0): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await logged(file, text)) <= before) {
    assert.ok(Date.now() < deadline, `no new "${text}" in ${file}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logFile = (name: string) => path.join(sb.home, "logs", `${name}.log`);

test("SIGTERM while reload waits: exit 143, an error in --json, not a failed reload", async () => {
  const run = spawnCli(sb, ["reload", "slow", "--wait", "120", "--json"]);
  // The gateway took the reload signal: the job is done or ending, and the wait for health is under way.
  await untilLogged(logFile("slow"), "SIGHUP taken");
  run.kill("SIGTERM");
  const r = await run.done;
  assert.equal(r.code, 143, r.stdout + r.stderr);
  // --json quiets progress, not the answer to the signal: without it a user would take the wait for a hang.
  assert.match(r.stderr, /SIGTERM: stopping once the step under way is done/);
  assert.match(r.stderr, /slow: SIGTERM stopped the wait for its reload, which goes on in the manager; not marked known-good/);
  const out = JSON.parse(r.stdout) as { error: { code: number; type: string } };
  assert.deepEqual([out.error.code, out.error.type], [143, "InterruptedError"]);
});

// A gateway that ignores SIGTERM: its stop job lasts the template's TimeoutStopSec (5 s here), then SIGKILL.
test("Ctrl-C while stop, then disable, wait for a stop job: exit 130 each; disable's unit stays disabled", async () => {
  const add = await sb.profiles(["add", "stubborn", "--port", "18923", "--env", "HEALTH_STATUS=200", "--env", "IGNORE_SIGTERM=1"]);
  assert.equal(add.code, 0, add.stderr);
  const stop = spawnCli(sb, ["stop", "stubborn", "--wait", "60"]);
  await untilLogged(logFile("stubborn"), "SIGTERM ignored");
  stop.kill("SIGINT");
  const r = await stop.done;
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /stubborn: SIGINT stopped the wait for its stop, which goes on in the manager\n {2}next: run `profiles status stubborn`/);
  await waitForUnit(sb, "agent-gateway@stubborn.service", ["ActiveState"], (p) => p.ActiveState === "inactive" || p.ActiveState === "failed");

  const start = await sb.profiles(["start", "stubborn"]);
  assert.equal(start.code, 0, start.stderr);
  const ignoredBefore = await logged(logFile("stubborn"), "SIGTERM ignored");
  const disable = spawnCli(sb, ["disable", "stubborn", "--wait", "60"]);
  await untilLogged(logFile("stubborn"), "SIGTERM ignored", ignoredBefore);
  disable.kill("SIGINT");
  const d = await disable.done;
  assert.equal(d.code, 130, d.stdout + d.stderr);
  assert.match(d.stderr, /stubborn: SIGINT stopped the wait for its stop, which goes on in the manager \(disabled all the same\)/);
  const list = JSON.parse((await sb.profiles(["list", "--json"])).stdout) as { name: string; enabled: boolean }[];
  assert.equal(list.find((p) => p.name === "stubborn")?.enabled, false);
});

import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { spawnCli, startSandbox, userPaths, type Sandbox } from "../helpers/sandbox.js";
import { waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only.
const RANGE = "18920-18929";

let sb: Sandbox;

before(async () => {
  sb = await startSandbox();
  const gateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
  const init = await sb.profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep", "--exec", `node ${gateway}`]);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  await sb?.stop();
});

interface Gen {
  number: number;
  knownGood: boolean;
}

/** `cmd` spawned, its unit seen running by the manager (it never listens: the wait goes on), then `signal`. */
async function interruptedWhileWaiting(args: string[], signal: NodeJS.Signals) {
  const run = spawnCli(sb, args);
  let ended = false;
  void run.done.then(() => (ended = true));
  await waitForUnit(sb, "agent-gateway@slow.service", ["ActiveState", "SubState"], (p) => {
    assert.ok(!ended, "the command ended before its unit ran");
    return p.ActiveState === "active" && p.SubState === "running";
  });
  run.kill(signal);
  return run.done;
}

test("Ctrl-C while add waits for health: exit 130, the profile is kept and enabled, its generation not known-good, its lock gone", async () => {
  const r = await interruptedWhileWaiting(["add", "slow", "--port", "18920", "--env", "NEVER_LISTEN=1", "--wait", "120"], "SIGINT");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /SIGINT: stopping once the step under way is done/);
  assert.match(r.stderr, /slow: SIGINT stopped the wait for its start, which goes on in the manager; not marked known-good/);
  assert.match(r.stderr, /next: run `profiles status slow`/);

  const list = JSON.parse((await sb.profiles(["list", "--json"])).stdout) as { name: string; port: number; enabled: boolean }[];
  assert.deepEqual(list.map((p) => [p.name, p.port, p.enabled]), [["slow", 18920, true]]);
  const h = JSON.parse((await sb.profiles(["history", "slow", "--json"])).stdout) as { generations: Gen[] };
  assert.deepEqual(h.generations.map((g) => [g.number, g.knownGood]), [[1, false]]);
  const locks = await fs.readdir(userPaths(sb).locksDir);
  assert.deepEqual(locks.filter((f) => f.startsWith("slow")), [], `locks left: ${locks.join(", ")}`);
});

test("SIGTERM while restart waits for health: exit 143, and the next command on the profile finds it free", async () => {
  const stopped = await sb.profiles(["stop", "slow"]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const r = await interruptedWhileWaiting(["restart", "slow", "--wait", "120"], "SIGTERM");
  assert.equal(r.code, 143, r.stdout + r.stderr);
  assert.match(r.stderr, /slow: SIGTERM stopped the wait for its restart, which goes on in the manager; not marked known-good/);
  const locks = await fs.readdir(userPaths(sb).locksDir);
  assert.deepEqual(locks.filter((f) => f.startsWith("slow")), [], `locks left: ${locks.join(", ")}`);
  const stop = await sb.profiles(["stop", "slow"]);
  assert.equal(stop.code, 0, stop.stderr);
  const h = JSON.parse((await sb.profiles(["history", "slow", "--json"])).stdout) as { generations: Gen[] };
  assert.ok(h.generations.every((g) => !g.knownGood), JSON.stringify(h.generations));
});

test("Ctrl-C during the second profile of `start a b`: the message says what became of the first", async () => {
  const add = await sb.profiles(["add", "quick", "--port", "18921"]);
  assert.equal(add.code, 0, add.stderr);
  const stopped = await sb.profiles(["stop", "quick", "slow"]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const r = await interruptedWhileWaiting(["start", "quick", "slow", "--wait", "120"], "SIGINT");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /slow: SIGINT stopped the wait for its start, which goes on in the manager; not marked known-good \(before it: quick done\)/);
  const [q] = JSON.parse((await sb.profiles(["history", "quick", "--json"])).stdout).generations as Gen[];
  assert.equal(q!.knownGood, true);
});

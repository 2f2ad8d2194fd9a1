/**
 * `apply` SIGKILLed at a random moment (while it commits, adds or rolls), then run again: the second
 * apply finishes the roll the first one recorded, plans again and converges. Afterwards the manifest has
 * nothing left to do, every profile is healthy on the `.env` the manifest gives (a generation, known-good,
 * what its process started with), and the roll record is finished. A roll stopped by hand is not an
 * apply's to finish: apply refuses (13) until `profiles roll` has.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { type Sandbox, spawnCli, userPaths } from "../helpers/sandbox.js";
import { waitUntilNode } from "../helpers/proc-readings.js";
import { checkEnvFiles, initialisedSandbox, pollUntil, prng, seed } from "./util.js";

// Ports of this file only.
const RANGE = "19970-19989";
const NAMES = ["k1", "k2", "k3", "k4"];
const ROUNDS = 6;

let sb: Sandbox;
const random = prng(seed("apply-kill"));
const figures = { rounds: 0, appliesDoneBeforeKill: 0, killedWithRollUnfinished: 0, resumedByApply: 0 };

before(async () => {
  sb = await initialisedSandbox(RANGE);
});
after(async () => {
  console.log(`# reliability figures (apply SIGKILL): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

const manifest = () => path.join(sb.home, "profiles.ini");

async function writeManifest(round: number, withK4: boolean): Promise<void> {
  const names = withK4 ? NAMES : NAMES.slice(0, 3);
  const text = names.map((n, i) => `[profile ${n}]\nport = ${19970 + i}\nROUND = ${round}\nGREETING = "round ${round} of ${n}"\n`).join("\n");
  const r = await sb.exec("tee", [manifest()], { input: text });
  assert.equal(r.code, 0, r.stderr);
}

async function profiles(args: string[]) {
  return sb.profiles(args, { timeoutMs: 180_000 });
}

interface Row { name: string; activeState: string; pendingRestart: boolean | null }
interface History { current: number | null; generations: { number: number; knownGood: boolean; current: boolean }[] }

test(`${ROUNDS} x apply SIGKILLed at a random moment, then apply again: converged, healthy, known-good, roll finished`, async () => {
  await writeManifest(0, true);
  const first = await profiles(["apply", "-f", manifest(), "--yes"]);
  assert.equal(first.code, 0, first.stderr);
  for (let round = 1; round <= ROUNDS; round++) {
    figures.rounds++;
    // Odd rounds add k4 back (removed by the even round's --prune): the kill may land in an add too.
    await writeManifest(round, round % 2 === 1);
    const run = spawnCli(sb, ["apply", "-f", manifest(), "--yes", "--prune", "--wait", "20"]);
    assert.ok(await waitUntilNode(run.pid));
    // A moment anywhere from planning to the last profile's gate (each gate takes about a second).
    await new Promise((r) => setTimeout(r, Math.floor(random() * 4000)));
    if (!run.kill("SIGKILL")) figures.appliesDoneBeforeKill++;
    await run.done;
    const record = await sb.exec("cat", [path.join(userPaths(sb).stateDir, "roll.json")]);
    if (record.code === 0 && (JSON.parse(record.stdout) as { finished: unknown }).finished === null) figures.killedWithRollUnfinished++;

    const again = await profiles(["apply", "-f", manifest(), "--yes", "--prune", "--wait", "20", "--json"]);
    assert.equal(again.code, 0, `round ${round}: ${again.stdout}\n${again.stderr}`);
    if ((JSON.parse(again.stdout) as { resumed: unknown }).resumed !== null) figures.resumedByApply++;

    const plan = await profiles(["plan", "-f", manifest(), "--prune"]);
    assert.equal(plan.code, 0, `round ${round}: the manifest still has work to do\n${plan.stdout}`);
    const rows = JSON.parse((await profiles(["list", "--json"])).stdout) as Row[];
    const expected = round % 2 === 1 ? NAMES : NAMES.slice(0, 3);
    assert.deepEqual(rows.map((r) => [r.name, r.activeState, r.pendingRestart]), expected.map((n) => [n, "active", false]), `round ${round}`);
    const health = await profiles(["health"]);
    assert.equal(health.code, 0, `round ${round}: ${health.stdout}`);
    for (const name of expected) {
      const h = JSON.parse((await profiles(["history", name, "--json"])).stdout) as History;
      const current = h.generations.find((g) => g.current);
      assert.ok(current?.knownGood, `round ${round}: ${name}'s current generation is not known-good: ${JSON.stringify(h)}`);
    }
    for (const c of await checkEnvFiles(userPaths(sb))) assert.deepEqual(c.problems, [], `round ${round}: ${c.name}`);
    const after = JSON.parse((await sb.exec("cat", [path.join(userPaths(sb).stateDir, "roll.json")])).stdout || "{}") as { finished?: unknown };
    assert.notEqual(after.finished ?? "no record", null, `round ${round}: the roll record is unfinished`);
  }
});

test("a roll stopped by hand is not apply's to finish: apply exits 13 naming `profiles roll`, changing nothing", async () => {
  const roll = spawnCli(sb, ["roll"]);
  assert.ok(await waitUntilNode(roll.pid));
  // Killed before its first gate ends: the record it wrote first stays unfinished.
  const recordFile = path.join(userPaths(sb).stateDir, "roll.json");
  const unfinished = await pollUntil(async () => {
    const r = await sb.exec("cat", [recordFile]);
    return r.code === 0 && /"state": *"rolling"/.test(r.stdout);
  }, 30_000);
  process.kill(roll.pid, "SIGKILL");
  await roll.done;
  assert.ok(unfinished, "the roll never reached its first profile");
  await writeManifest(ROUNDS + 1, true);
  const refused = await profiles(["apply", "-f", manifest(), "--yes"]);
  assert.equal(refused.code, 13, refused.stderr);
  assert.match(refused.stderr, /an earlier roll was stopped before it finished/);
  assert.match(refused.stderr, /next: run `profiles roll` to finish it, then apply again/);
  const finish = await profiles(["roll"]);
  assert.equal(finish.code, 0, finish.stderr);
  const applied = await profiles(["apply", "-f", manifest(), "--yes"]);
  assert.equal(applied.code, 0, applied.stderr);
});

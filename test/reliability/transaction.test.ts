/**
 * The profile transaction against a real user manager: two `set --restart` racing each other's
 * known-good mark, a hand edit made while the unit starts, `remove` racing a roll, and `remove` killed
 * mid-way before a new profile of the same name. No generation holding a fault is ever known-good, and
 * a new profile inherits nothing.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { type Sandbox, spawnCli, userPaths } from "../helpers/sandbox.js";
import { waitUntilNode } from "../helpers/proc-readings.js";
import { initialisedSandbox, prng, seed } from "./util.js";

// Ports of this file only.
const RANGE = "19910-19949";
const WAIT = ["--wait", "15"];
/** Makes the reference gateway exit 78 at start: a non-loopback host without API_KEY. */
const CRASH = "HOST=0.0.0.0";

let sb: Sandbox;
const random = prng(seed("transaction"));
const figures = { setRaces: 0, racesBothFailed: 0, handEditsDuringStart: 0, removeRollRaces: 0, removesBusy: 0, refusedDisabled: 0, removesKilled: 0, removesDoneBeforeKill: 0, knownGoodWithAFault: 0 };

before(async () => {
  sb = await initialisedSandbox(RANGE, ["t1", "t2", "t3", "t4"]);
});
after(async () => {
  console.log(`# reliability figures (transaction): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

const envPath = (name: string) => path.join(userPaths(sb).profilesDir, name, ".env");
const sha = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

interface Gen { number: number; sha256: string; knownGood: boolean; reason: string }
async function generations(name: string): Promise<Gen[]> {
  const r = await sb.profiles(["history", name, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { generations: Gen[] }).generations;
}

/** Every known-good generation of `name` whose bytes match `bad` (the `.env` text of a fault) counts as a failure. */
async function knownGoodWith(name: string, bad: (text: string) => boolean): Promise<number[]> {
  const dir = path.join(userPaths(sb).stateDir, "generations", name);
  const found: number[] = [];
  for (const g of (await generations(name)).filter((x) => x.knownGood)) {
    const text = await fs.readFile(path.join(dir, `${g.number}.env`), "utf8");
    assert.equal(sha(text), g.sha256, `generation ${g.number} of ${name} is intact`);
    if (bad(text)) found.push(g.number);
  }
  return found;
}

async function ok(args: string[]): Promise<string> {
  const r = await sb.profiles(args, { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

test("two set --restart racing: each marks only what its own healthy process started with; a crashing value is never known-good", async () => {
  for (let round = 0; round < 6; round++) {
    figures.setRaces++;
    const good = sb.profiles(["set", "t1", `RL_GOOD=${round}`, "--restart", ...WAIT], { timeoutMs: 90_000 });
    const bad = sb.profiles(["set", "t1", CRASH, "--restart", ...WAIT], { timeoutMs: 90_000 });
    const [g, b] = await Promise.all([good, bad]);
    // The crashing change always fails its gate; the good one passes when it ran first.
    assert.equal(b.code, 7, b.stderr);
    assert.ok(g.code === 0 || g.code === 7, `good: ${g.code} ${g.stderr}`);
    if (g.code === 7) figures.racesBothFailed++;
    assert.doesNotMatch(g.stderr + b.stderr, /lock .* is held/, "the second waited for the first");
    const wrong = await knownGoodWith("t1", (t) => /^HOST="0\.0\.0\.0"$/m.test(t));
    figures.knownGoodWithAFault += wrong.length;
    assert.deepEqual(wrong, [], "no generation with the crashing value is known-good");
    await ok(["rollback", "t1", ...WAIT]);
  }
});

test("a hand edit made while the unit starts: the generation pinned before the job is not marked, the edit is marked once it is what runs", async () => {
  const unitDir = path.join(userPaths(sb).unitDir, "agent-gateway@t2.service.d");
  const dropIn = path.join(unitDir, "10-hand-edit.conf");
  // ExecStartPre runs after the tool pinned the file and before systemd reads it for ExecStart=.
  await fs.mkdir(unitDir, { recursive: true });
  await fs.writeFile(dropIn, `[Service]\nExecStartPre=/bin/sh -c "sed -i 's/^RL_H=.*/RL_H=\\"edited\\"/' ${envPath("t2")}"\n`);
  await fs.chown(unitDir, sb.uid, sb.gid);
  await fs.chown(dropIn, sb.uid, sb.gid);
  assert.equal((await sb.exec("systemctl", ["--user", "daemon-reload"])).code, 0);
  try {
    for (const [i, verb] of [["set", "t2", "RL_H=mine", "--restart"], ["restart", "t2"]].entries()) {
      figures.handEditsDuringStart++;
      if (i === 1) await ok(["set", "t2", "RL_H=again"]);
      const out = await sb.profiles([...verb, ...WAIT], { timeoutMs: 90_000 });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /not marked known-good: process \d+ did not start with generation \d+ \(RL_H differ/, out.stdout);
      assert.deepEqual(await knownGoodWith("t2", (t) => /^RL_H="(mine|again)"$/m.test(t)), [], "the pinned generation is not known-good");
    }
  } finally {
    await fs.rm(unitDir, { recursive: true, force: true });
    assert.equal((await sb.exec("systemctl", ["--user", "daemon-reload"])).code, 0);
  }
  // Without the drop-in the edit is what starts: kept as a generation and marked.
  await ok(["restart", "t2", ...WAIT]);
  const text = await fs.readFile(envPath("t2"), "utf8");
  assert.match(text, /^RL_H="edited"$/m);
  const running = (await generations("t2")).find((g) => g.sha256 === sha(text));
  assert.deepEqual([running?.reason, running?.knownGood], ["found on disk (edited by hand)", true]);
});

test("remove racing a roll: the roll never halts on it; the removed profile is skipped or rolled before it went", async () => {
  for (let round = 0; round < 4; round++) {
    figures.removeRollRaces++;
    await ok(["set", "t3", `RL_R=${round}`]);
    await ok(["set", "t4", `RL_R=${round}`]);
    const roll = sb.profiles(["roll", "t4", "t3", "--canary", "1", "--max-parallel", "1", "--min-healthy-time", "1", "--json"], { timeoutMs: 120_000 });
    // Somewhere in t4's gate, or later: the remove waits for t3's lock or takes it first.
    await new Promise((r) => setTimeout(r, Math.floor(random() * 1500)));
    const removed = await sb.profiles(["remove", "t3", "--purge"], { timeoutMs: 120_000 });
    const r = await roll;
    if (removed.code === 9) figures.removesBusy++;
    else assert.equal(removed.code, 0, removed.stderr);
    if (removed.code === 0) await ok(["add", "t3", ...WAIT]);
    // A remove done before the roll read its names: the roll refuses the name, having changed nothing.
    if (r.code === 3) {
      assert.match(r.stderr, /profile "t3" does not exist/);
      continue;
    }
    // A remove half done (it disables the unit first) when the roll read its names: refused as disabled (2),
    // before the roll began, having changed nothing.
    if (r.code === 2) {
      assert.match(r.stdout + r.stderr, /profile \\?"t3\\?" is disabled/);
      figures.refusedDisabled++;
      continue;
    }
    assert.equal(r.code, 0, `roll: ${r.stdout} ${r.stderr}`);
    const t3 = (JSON.parse(r.stdout) as { rolls: { profiles: { name: string; outcome: string }[] }[] }).rolls[0]!.profiles.find((p) => p.name === "t3")!;
    assert.ok(["skipped", "rolled"].includes(t3.outcome), `t3: ${t3.outcome}`);
  }
});

test("remove killed at any point, then remove again and add the name anew: the new profile inherits no generation and no limits", async () => {
  const paths = userPaths(sb);
  for (let round = 0; round < 5; round++) {
    figures.removesKilled++;
    await ok(["limits", "t3", "--memory-max", "300M"]);
    await ok(["set", "t3", `RL_OLD=${round}`]);
    const run = spawnCli(sb, ["remove", "t3"]);
    assert.ok(await waitUntilNode(run.pid));
    await new Promise((r) => setTimeout(r, Math.floor(random() * 400)));
    if (!run.kill("SIGKILL")) figures.removesDoneBeforeKill++;
    await run.done;
    const left = await fs.stat(envPath("t3")).then(() => true, () => false);
    if (left) await ok(["remove", "t3"]);
    await ok(["add", "t3", ...WAIT]);
    const gens = await generations("t3");
    assert.deepEqual(gens.map((g) => [g.number, g.reason]), [[1, "add"]], `round ${round}: ${JSON.stringify(gens)}`);
    const limits = JSON.parse(await ok(["limits", "t3", "--json"])) as { set: object; inForce: { MemoryMax: number | "infinity" } };
    assert.deepEqual(limits.set, {});
    assert.notEqual(limits.inForce.MemoryMax, 300 * 1024 * 1024);
    assert.equal(await fs.stat(path.join(paths.unitDir, "agent-gateway@t3.service.d", "50-limits.conf")).then(() => true, () => false), false);
  }
});

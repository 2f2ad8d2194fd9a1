import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { type ExecResult, type Sandbox, userPaths } from "../helpers/sandbox.js";
import { flipBit, truncateHalf } from "../helpers/corrupt.js";
import { envFile, type Paths } from "../../src/paths.js";
import { corruptGenerations, generationFile, generationsDir, history, readGeneration } from "../../src/store/generations.js";
import { hashTree, healthStatus, initialisedSandbox, pollUntil } from "./util.js";

// Ports of this file only.
const RANGE = "19690-19699";
const BROKEN = "HOST=0.0.0.0"; // the reference gateway refuses a public HOST without API_KEY (exit 78)

let sb: Sandbox;
let paths: Paths;
const figures = {
  truncated: 0,
  bitFlipped: 0,
  rollbacksRefused: 0,
  rollbacksSkipping: 0,
  rollsReverted: 0,
  skippedNamed: 0,
  doctorReported: 0,
  controlValues: 0,
  commandsRun: 0,
  generationsTracked: 0,
  generationsLost: 0,
  wronglyKnownGood: 0,
};

before(async () => {
  sb = await initialisedSandbox(RANGE, ["g1", "g2"]);
  paths = userPaths(sb);
});
after(async () => {
  console.log(`# reliability figures (corrupt generations, control characters): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

async function run(args: string[], want: number): Promise<ExecResult> {
  const r = await sb.profiles(args, { timeoutMs: 90_000 });
  figures.commandsRun++;
  assert.equal(r.code, want, `profiles ${args.join(" ")}: exit ${r.code}, want ${want}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * Every generation ever seen, by profile and number: its sha256 and whether it was known-good. After each
 * step none may be gone or hold another sha, none may lose its mark, and a newly marked one must be
 * intact and not hold the broken value.
 */
const seen = new Map<string, Map<number, { sha256: string; knownGood: boolean }>>();
const damaged = new Set<string>();

async function checkLedger(name: string): Promise<void> {
  const before = seen.get(name) ?? new Map();
  const h = await history(paths, name);
  const now = new Map(h.generations.map((g) => [g.number, g]));
  for (const [n, was] of before) {
    const g = now.get(n);
    if (!g || g.sha256 !== was.sha256) figures.generationsLost++;
    assert.ok(g, `${name}: generation ${n} was lost`);
    assert.equal(g.sha256, was.sha256, `${name}: generation ${n} holds another sha256`);
    assert.ok(g.knownGood || !was.knownGood, `${name}: generation ${n} lost its known-good mark`);
  }
  const corrupt = new Set((await corruptGenerations(paths, name)).map((c) => c.file));
  for (const g of h.generations) {
    const file = generationFile(paths, name, g.number);
    assert.equal(corrupt.has(file), damaged.has(file), `${file}: corrupt ${corrupt.has(file)}, damaged by this test ${damaged.has(file)}`);
    const newlyGood = g.knownGood && !before.get(g.number)?.knownGood;
    if (newlyGood && (damaged.has(file) || (await readGeneration(paths, name, g.number)).includes(`${BROKEN.split("=")[0]}="0.0.0.0"`))) {
      figures.wronglyKnownGood++;
      assert.fail(`${name}: generation ${g.number} was marked known-good although it is corrupt or broken`);
    }
  }
  if (!seen.has(name)) seen.set(name, new Map());
  for (const g of h.generations) {
    if (!before.has(g.number)) figures.generationsTracked++;
    seen.get(name)!.set(g.number, { sha256: g.sha256, knownGood: g.knownGood });
  }
}

async function damage(name: string, n: number, how: "truncate" | "flip"): Promise<string> {
  const file = generationFile(paths, name, n);
  if (how === "truncate") {
    await truncateHalf(file);
    figures.truncated++;
  } else {
    await flipBit(file);
    figures.bitFlipped++;
  }
  damaged.add(file);
  return file;
}

/** The bytes a refused command must leave alone: the `.env`, index.json, and every generation file. */
async function untouched(name: string): Promise<() => Promise<void>> {
  const env = await fs.readFile(envFile(paths, name));
  const index = await fs.readFile(path.join(generationsDir(paths, name), "index.json"));
  const tree = await hashTree(generationsDir(paths, name));
  return async () => {
    assert.ok((await fs.readFile(envFile(paths, name))).equals(env), `${name}: .env changed`);
    assert.ok((await fs.readFile(path.join(generationsDir(paths, name), "index.json"))).equals(index), `${name}: index.json changed`);
    assert.equal(await hashTree(generationsDir(paths, name)), tree, `${name}: a generation file changed`);
  };
}

async function port(name: string): Promise<number> {
  return Number(JSON.parse((await run(["env", name, "--json"], 0)).stdout).variables.PORT);
}

async function healthy(name: string): Promise<void> {
  const p = await port(name);
  assert.ok(await pollUntil(async () => (await healthStatus(p)) === 200, 30_000), `${name} is not healthy on ${p}`);
  await run(["health", name], 0);
}

test("rollback of a truncated or bit-flipped generation exits 12 naming the file, changing nothing; the default target skips it", async () => {
  await checkLedger("g1");
  await run(["set", "g1", "RL_A=2", "--restart"], 0);
  await run(["set", "g1", "RL_A=3", "--restart"], 0);
  await checkLedger("g1");
  const original1 = await fs.readFile(generationFile(paths, "g1", 1));

  const two = await damage("g1", 2, "truncate");
  let same = await untouched("g1");
  let r = await run(["rollback", "g1", "--to", "2"], 12);
  assert.match(r.stderr, new RegExp(`${two}: does not hold the bytes of generation 2 \\(sha256 [0-9a-f]{12}… expected, [0-9a-f]{12}… found\\)`));
  await same();
  figures.rollbacksRefused++;

  const one = await damage("g1", 1, "flip");
  same = await untouched("g1");
  r = await run(["rollback", "g1", "--to", "1", "--json"], 12);
  const err = JSON.parse(r.stdout).error;
  assert.equal(err.code, 12);
  assert.match(err.message, new RegExp(`^${one}: does not hold the bytes of generation 1`));
  await same();
  figures.rollbacksRefused++;
  // Every default candidate (2, then 1) corrupt: the newest is named.
  r = await run(["rollback", "g1"], 12);
  assert.match(r.stderr, new RegExp(`${two}: does not hold the bytes of generation 2`));
  await same();
  figures.rollbacksRefused++;
  await checkLedger("g1");

  // doctor names both, with the fix for each: nothing holds their bytes, so forgetting them.
  r = await run(["doctor", "--json"], 14);
  const check = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === "generations");
  assert.deepEqual(check.problems.map((p: { message: string; fix: string }) => [p.message.replace(/[0-9a-f]{12}…/g, "SHA"), p.fix]), [
    [`g1: ${one} does not hold the bytes of generation 1 (sha256 SHA expected, SHA found)`, "profiles history g1 --forget 1"],
    [`g1: ${two} does not hold the bytes of generation 2 (sha256 SHA expected, SHA found)`, "profiles history g1 --forget 2"],
  ]);
  figures.doctorReported += check.problems.length;
  r = await run(["history", "g1"], 0);
  assert.match(r.stdout, /^2! /m);
  assert.match(r.stdout, /^1! /m);

  // Generation 1 put back (as doctor's cp would from an intact copy): the default target skips 2 for 1.
  await fs.writeFile(generationFile(paths, "g1", 1), original1);
  damaged.delete(one);
  r = await run(["rollback", "g1"], 0);
  assert.match(r.stdout, new RegExp(`^g1: skipped generation 2, corrupt: ${two} does not hold the bytes of generation 2 .*\\ng1: restored generation 1 as generation 4; restarted: healthy`, "m"));
  assert.ok((await fs.readFile(envFile(paths, "g1"))).equals(original1), "the .env holds generation 1's bytes");
  figures.rollbacksSkipping++;
  figures.skippedNamed++;
  await healthy("g1");
  await checkLedger("g1");
});

test("a failing roll reverts to the newest verified known-good generation and names the corrupt newer one", async () => {
  await checkLedger("g2");
  await run(["set", "g2", "RL_B=1", "--restart"], 0);
  await checkLedger("g2");
  // Round 1 (--json): known-good 1 and 2, 2 bit-flipped, then a broken 3.
  const two = await damage("g2", 2, "flip");
  await run(["set", "g2", BROKEN], 0);
  let r = await run(["roll", "g2", "--min-healthy-time", "1", "--json"], 13);
  let p = JSON.parse(r.stdout).rolls[0].profiles[0];
  assert.deepEqual([p.outcome, p.revertedTo], ["reverted", 1], r.stdout);
  assert.deepEqual(p.revertSkipped.map((c: { number: number; file: string }) => [c.number, c.file]), [[2, two]]);
  let record = JSON.parse(await fs.readFile(path.join(paths.stateDir, "roll.json"), "utf8"));
  assert.deepEqual(record.profiles.g2.revertSkipped.map((c: { file: string }) => c.file), [two]);
  assert.equal(await fs.readFile(envFile(paths, "g2"), "utf8"), await readGeneration(paths, "g2", 1));
  figures.rollsReverted++;
  figures.skippedNamed++;
  await healthy("g2");
  await checkLedger("g2");

  // Round 2 (text): known-good 1, 2 (corrupt), 4 (the revert), 5 truncated, then a broken 6.
  await run(["set", "g2", "RL_B=5", "--restart"], 0);
  await checkLedger("g2");
  const five = await damage("g2", 5, "truncate");
  await run(["set", "g2", BROKEN], 0);
  r = await run(["roll", "g2", "--min-healthy-time", "1"], 13);
  assert.match(r.stdout, new RegExp(`reverted   g2: crashed.*back on known-good generation 4 \\(skipped corrupt generation: ${five} does not hold the bytes of generation 5 `));
  record = JSON.parse(await fs.readFile(path.join(paths.stateDir, "roll.json"), "utf8"));
  p = record.profiles.g2;
  assert.deepEqual([p.state, p.revertedTo, p.revertSkipped.map((c: { file: string }) => c.file)], ["reverted", 4, [five]]);
  assert.equal(await fs.readFile(envFile(paths, "g2"), "utf8"), await readGeneration(paths, "g2", 4));
  figures.rollsReverted++;
  figures.skippedNamed++;
  await healthy("g2");
  await checkLedger("g2");

  r = await run(["doctor", "--json"], 14);
  const check = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === "generations");
  const files = check.problems.map((x: { message: string }) => x.message.split(" ")[1]);
  assert.deepEqual(files, [generationFile(paths, "g1", 2), two, five]);
  figures.doctorReported += files.length;
  r = await run(["doctor"], 14);
  assert.match(r.stdout, new RegExp(`^FAIL generations hold the bytes their index.json records: .*${five}`, "m"));
});

test("a value with ESC and BEL set by a hand edit shows escaped in env, diff, history and logs, exact in --json", async () => {
  const value = "\x1b[2J\x1b]0;pwned\x07hi";
  const escaped = "\\e[2J\\e]0;pwned\\x07hi";
  // Owner and mode stay the user's: the file is appended to, not replaced.
  await fs.appendFile(envFile(paths, "g1"), `RL_BANNER="${value}"\n`);
  const logFile = path.join(sb.home, "logs", "g1.log");
  await fs.appendFile(logFile, `gateway says ${value}\n`);
  figures.controlValues += 2;
  const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

  let r = await run(["env", "g1"], 0);
  assert.ok(r.stdout.split("\n").includes(`RL_BANNER="${escaped}"`), r.stdout);
  assert.doesNotMatch(r.stdout, RAW);
  assert.equal(JSON.parse((await run(["env", "g1", "--json"], 0)).stdout).variables.RL_BANNER, value);

  r = await run(["diff", "g1"], 0);
  assert.ok(r.stdout.includes(`+ RL_BANNER="${escaped}"`), r.stdout);
  assert.doesNotMatch(r.stdout, RAW);
  const d = JSON.parse((await run(["diff", "g1", "--json"], 0)).stdout);
  assert.deepEqual(d.differences.map((x: { key: string; new: string }) => [x.key, x.new]), [["RL_BANNER", value]]);

  // history shows no values; a later change keeps the hand edit as a generation, and that shows nothing raw either.
  await run(["set", "g1", "RL_C=1"], 0);
  r = await run(["history", "g1"], 0);
  assert.match(r.stdout, /found on disk \(edited by hand\)\s+RL_BANNER/);
  assert.doesNotMatch(r.stdout, RAW);
  r = await run(["diff", "g1", "4", "5"], 0);
  assert.ok(r.stdout.includes(`+ RL_BANNER="${escaped}"`), r.stdout);

  r = await run(["logs", "g1", "-n", "1"], 0);
  assert.equal(r.stdout, `gateway says ${escaped}\n`);
  assert.deepEqual((JSON.parse((await run(["logs", "g1", "-n", "1", "--json"], 0)).stdout) as { message: string }).message, `gateway says ${value}`);
  await checkLedger("g1");
  await checkLedger("g2");
});

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { type ExecResult, type Sandbox, userPaths } from "../helpers/sandbox.js";
import { mapLimit } from "../../src/core/sweep/pool.js";
import { hashTree, initialisedSandbox, prng, seed } from "./util.js";
import {
  badNames, badPairs, badPorts, badRollRecords, configReaders, corruptConfigs, envReaders, flagCases, garbageEnvs, missingCases, nameCases, pairCases, portCases, rollReaders,
  type BadCase, type World,
} from "./bad-input-cases.js";
import { BAD_MANIFESTS } from "../helpers/bad-manifests.js";

// Ports of this file only.
const RANGE = "19600-19649";
const FOREIGN = 19640;
const FREE = 19645;
// Each CLI start costs ~0.3 s of CPU; four at a time keeps both cores busy without starving the manager.
const PARALLEL = 4;

let sb: Sandbox;
let foreign: net.Server;
const SEED = seed("bad inputs");
const rand = prng(SEED);
const figures = { casesTried: 0, byCode: {} as Record<string, number>, phases: 0, hashesCompared: 0, seed: SEED };

const world: World = { existing: ["e1", "e2"], ports: [19600, 19601], foreignPort: FOREIGN, freePort: FREE };

before(async () => {
  sb = await initialisedSandbox(RANGE);
  for (const [i, n] of world.existing.entries()) {
    const r = await sb.profiles(["add", n, "--port", String(world.ports[i])], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
  }
  // A second generation, so that diff/rollback cases have something to refer to.
  const s = await sb.profiles(["set", "e1", "RL_X=1"]);
  assert.equal(s.code, 0, s.stderr);
  foreign = net.createServer();
  await new Promise<void>((r) => foreign.listen(FOREIGN, "127.0.0.1", r));
});
after(async () => {
  console.log(`# reliability figures (bad inputs): ${JSON.stringify(figures)}`);
  foreign?.close();
  await sb?.stop();
});

// Everything the tool keeps: the whole XDG config home (config.ini, profiles, the template units) and state home
// (generations, locks, roll record, removed copies). Nothing is excluded.
async function stateHash(): Promise<string> {
  const p = userPaths(sb);
  return `${await hashTree(p.configRoot)}/${await hashTree(path.dirname(p.stateDir))}`;
}

function describe(c: BadCase): string {
  return `profiles ${c.args.map((a) => JSON.stringify(a)).join(" ")} (${c.why})`;
}

/** Runs `cases` PARALLEL at a time; a hash is taken around each group so that a write is pinned to its group. */
async function runPhase(label: string, cases: BadCase[]): Promise<void> {
  figures.phases++;
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += PARALLEL) {
    const group = cases.slice(i, i + PARALLEL);
    const before = await stateHash();
    const results: ExecResult[] = await mapLimit(group, PARALLEL, (c, j) => {
      // Half the cases with --json: the error must then also come as JSON on stdout, with the same code.
      const json = (i + j) % 2 === 0 && c.args.length > 0;
      return sb.profiles(json ? [...c.args, "--json"] : c.args, { timeoutMs: 60_000 });
    });
    const after = await stateHash();
    figures.hashesCompared++;
    if (before !== after) failures.push(`${label}: config/state changed by one of:\n  ${group.map(describe).join("\n  ")}`);
    group.forEach((c, j) => {
      const r = results[j]!;
      const json = (i + j) % 2 === 0 && c.args.length > 0;
      figures.casesTried++;
      figures.byCode[r.code] = (figures.byCode[r.code] ?? 0) + 1;
      if (r.code !== c.code) failures.push(`${label}: ${describe(c)}${json ? " --json" : ""}: exit ${r.code}, want ${c.code}; stderr: ${r.stderr.trim().slice(0, 300)}`);
      else if (!/^profiles: \S/m.test(r.stderr)) failures.push(`${label}: ${describe(c)}: no message on stderr: ${JSON.stringify(r.stderr)}`);
      else if (c.stderrHas?.some((t) => !r.stderr.includes(t))) failures.push(`${label}: ${describe(c)}: stderr lacks one of ${JSON.stringify(c.stderrHas)}: ${r.stderr.trim().slice(0, 400)}`);
      else if (json) {
        let code: unknown;
        try {
          code = (JSON.parse(r.stdout) as { error?: { code?: unknown } }).error?.code;
        } catch {
          code = `unparsable stdout ${JSON.stringify(r.stdout.slice(0, 200))}`;
        }
        if (code !== c.code) failures.push(`${label}: ${describe(c)} --json: error.code ${String(code)}, want ${c.code}`);
      }
    });
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} ${label} cases failed (seed ${SEED}):\n${failures.join("\n")}`);
}

test("bad names, missing and existing profiles, bad ports, bad K=V pairs and flags: exit code, message, nothing written", async () => {
  const cases = [
    ...nameCases(badNames(rand, 12)),
    ...missingCases(["nosuch", "x", `m${Math.floor(rand() * 1e6)}`]),
    { args: ["add", "e1", "--no-start"], code: 4, why: "exists" },
    { args: ["add", "e2", "--port", String(FREE), "--no-start"], code: 4, why: "exists, with a free port" },
    { args: ["add", "e1", "--env", "A=1", "--no-start"], code: 4, why: "exists, with env" },
    ...portCases(world, badPorts(rand, 10)),
    ...pairCases(world, badPairs(rand, 12)),
    ...flagCases(world),
  ];
  await runPhase("inputs", cases);
});

test("bad manifests: plan and apply exit 2 naming the line, collisions 5; nothing written", async () => {
  const dir = path.join(sb.home, "manifests");
  await fs.mkdir(dir, { recursive: true });
  await fs.chown(dir, sb.uid, sb.gid);
  const manifests: { text: string; code: number; line?: number }[] = [
    ...BAD_MANIFESTS.map(([text, line]) => ({ text, code: 2, line })),
    { text: `[profile m1]\nport = ${world.ports[0]}\n`, code: 5 },
    { text: `[profile m1]\nport = ${FOREIGN}\n`, code: 5 },
    { text: `[profile m1]\nport = ${FREE}\n[profile m2]\nport = ${FREE}\n`, code: 5 },
  ];
  const cases: BadCase[] = [];
  for (const [i, m] of manifests.entries()) {
    const file = path.join(dir, `m${i}.ini`);
    await fs.writeFile(file, m.text);
    await fs.chown(file, sb.uid, sb.gid);
    const stderrHas = m.line === undefined ? [] : [`${file}: line ${m.line}: `];
    const why = `manifest ${JSON.stringify(m.text).slice(0, 60)}`;
    cases.push({ args: ["plan", "-f", file], code: m.code, why, stderrHas }, { args: ["apply", "-f", file, "--yes"], code: m.code, why, stderrHas });
  }
  await runPhase("manifests", cases);
});

test("a corrupted config.ini: every command that reads it exits 12, nothing written", async () => {
  const file = userPaths(sb).configFile;
  const original = await fs.readFile(file, "utf8");
  const st = await fs.stat(file);
  try {
    for (const { text, why } of corruptConfigs(original)) {
      await fs.writeFile(file, text);
      await runPhase(`config.ini ${why}`, configReaders("e1").map((args) => ({ args, code: 12, why })));
    }
    // Unreadable by its owner: still a file of ours that cannot be read.
    await fs.writeFile(file, original);
    await fs.chmod(file, 0o000);
    await runPhase("config.ini mode 000", configReaders("e1").map((args) => ({ args, code: 12, why: "unreadable" })));
  } finally {
    await fs.writeFile(file, original);
    await fs.chmod(file, st.mode & 0o7777);
  }
});

test("no config.ini at all: commands that need it exit 8, nothing written", async () => {
  const file = userPaths(sb).configFile;
  await fs.rename(file, `${file}.away`);
  try {
    await runPhase("not initialised", configReaders("e1").map((args) => ({ args, code: 8, why: "config.ini missing" })));
  } finally {
    await fs.rename(`${file}.away`, file);
  }
});

test("a .env edited by hand into garbage: commands that read it exit 12, nothing written", async () => {
  const file = path.join(userPaths(sb).profilesDir, "e1", ".env");
  const original = await fs.readFile(file, "utf8");
  try {
    for (const { text, why } of garbageEnvs(rand, world.ports[0])) {
      await fs.writeFile(file, text);
      await runPhase(`.env ${why}`, envReaders("e1").map((args) => ({ args, code: 12, why })));
    }
  } finally {
    await fs.writeFile(file, original);
  }
  // The profile came through untouched.
  const r = await sb.profiles(["status", "e1"]);
  assert.equal(r.code, 0, r.stderr);
});

test("a roll.json that does not parse or names a profile wrongly: every roll exits 12 naming it and the mv, nothing written", async () => {
  const { newRecord } = await import("../../src/core/roll/record.js");
  const { planRoll } = await import("../../src/core/roll/plan.js");
  const file = path.join(userPaths(sb).stateDir, "roll.json");
  const valid = newRecord(null, { maxParallel: 1, canary: 0, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, planRoll(world.existing, { canary: 0, maxParallel: 1 }));
  valid.profiles[world.existing[0]]!.state = "rolling";
  const stderrHas = [`${file}: `, `mv ${file} ${file}.bad`];
  try {
    for (const { text, why } of badRollRecords(rand, valid)) {
      await fs.writeFile(file, text, { mode: 0o600 });
      await fs.chown(file, sb.uid, sb.gid);
      await runPhase(`roll.json ${why}`, rollReaders(...world.existing).map((args) => ({ args, code: 12, why, stderrHas })));
    }
  } finally {
    await fs.rm(file, { force: true });
  }
});

test("at least 500 cases were tried", () => {
  assert.ok(figures.casesTried >= 500, `only ${figures.casesTried} cases`);
});

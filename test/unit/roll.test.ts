import { test } from "node:test";
import { markCurrent } from "../helpers/generations.js";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import add from "../../src/commands/add.js";
import roll from "../../src/commands/roll.js";
import { listrView } from "../../src/core/roll/listr-view.js";
import { planRoll } from "../../src/core/roll/plan.js";
import { loadRecord, newRecord, type RollRecord } from "../../src/core/roll/record.js";
import { RollRecorder } from "../../src/core/roll/recorder.js";
import type { RollReport } from "../../src/core/roll/report.js";
import { runRoll } from "../../src/core/roll/runner.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { commitEnvText, generationsDir, history, readGeneration } from "../../src/store/generations.js";
import { flipBit, truncateHalf } from "../helpers/corrupt.js";
import { acquireLock } from "../../src/store/lock.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

type World = Awaited<ReturnType<typeof fakeWorld>>;
interface Summary {
  outcome: string;
  previous: { stoppedBy: string | null; states: Record<string, string> } | null;
  rolls: RollReport[];
  next: string | null;
}

const NAMES = ["a", "b", "c", "d", "e"];
const g = { json: true, verbose: false };
const rollArgs = (over: Record<string, unknown> = {}) => ({ ...g, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, dryRun: false, ...over });
const profileOf = (unit: string) => unit.replace(/^agent-gateway@(.*)\.service$/, "$1");

/**
 * Five profiles on ports 8600-8604, each at a known-good generation 1. A profile misbehaves by what its
 * .env holds, as a real gateway would: CRASH=1 exits 78, HEALTH=500 answers 500, SILENT=1 never answers.
 */
async function world(): Promise<World & { env(name: string): string; restarts(name: string): number }> {
  const w = await fakeWorld();
  for (const n of NAMES) await add.run({ ...g, name: n, start: true, wait: 5 }, w.ctx);
  const env = (name: string) => fs.readFileSync(envFile(w.ctx.paths, name), "utf8");
  const portName = (port: number) => NAMES[port - 8600]!;
  w.systemd.onStart = (unit, s) => {
    if (env(profileOf(unit)).includes('CRASH="1"')) Object.assign(s, { activeState: "failed", subState: "failed", result: "exit-code", execMainCode: 1, execMainStatus: 78, mainPid: 0 });
  };
  w.prober.respond = (t) => {
    const text = env(portName(t.port));
    if (text.includes('HEALTH="500"')) return { ok: false, reason: "status 500", status: 500, latencyMs: 1 };
    if (text.includes('SILENT="1"')) return { ok: false, reason: "refused", latencyMs: 1 };
    return undefined;
  };
  const restarts = (name: string) => w.systemd.calls.filter((c) => c === `restart agent-gateway@${name}.service`).length;
  return Object.assign(w, { env, restarts });
}

async function breakProfile(w: World, name: string, line: string): Promise<void> {
  const text = fs.readFileSync(envFile(w.ctx.paths, name), "utf8");
  await commitEnvText(w.ctx.paths, name, `${text}${line}\n`, "set (test)");
}

async function run(w: World, over: Record<string, unknown> = {}) {
  const r = await roll.run(rollArgs(over) as never, w.ctx);
  return { ...r, data: r.data as Summary };
}

const outcomes = (r: RollReport) => Object.fromEntries(r.profiles.map((p) => [p.name, p.outcome]));

test("roll: every profile, canary then batches; all rolled, PIDs changed, known-good marked, record finished", async () => {
  const w = await world();
  try {
    const pids = new Map([...w.systemd.units].map(([u, s]) => [profileOf(u), s.mainPid]));
    await breakProfile(w, "d", 'LOG_LEVEL="debug"');
    const r = await run(w, { canary: 1, maxParallel: 2, minHealthyTime: 0.05 });
    assert.equal(r.exitCode, ExitCode.ok);
    const report = r.data.rolls[0]!;
    assert.deepEqual(report.plan, [{ kind: "canary", names: ["a"] }, { kind: "batch", names: ["b", "c"] }, { kind: "batch", names: ["d", "e"] }]);
    assert.deepEqual(outcomes(report), { a: "rolled", b: "rolled", c: "rolled", d: "rolled", e: "rolled" });
    const order = w.systemd.calls.filter((c) => c.startsWith("restart")).map((c) => profileOf(c.slice(8)));
    assert.deepEqual([order.slice(0, 1), order.slice(1, 3).sort(), order.slice(3).sort()], [["a"], ["b", "c"], ["d", "e"]]);
    for (const p of report.profiles) {
      assert.equal(p.pidBefore, pids.get(p.name));
      assert.notEqual(p.pidAfter, p.pidBefore);
    }
    // Batches overlap inside, never across: b and c ran together, d started after both ended.
    const at = (n: string, k: "startedAt" | "endedAt") => Date.parse(report.profiles.find((p) => p.name === n)![k]!);
    assert.ok(at("b", "startedAt") < at("c", "endedAt") && at("c", "startedAt") < at("b", "endedAt"));
    assert.ok(at("d", "startedAt") >= Math.max(at("b", "endedAt"), at("c", "endedAt")));
    const h = await history(w.ctx.paths, "d");
    assert.equal(h.current, 2);
    assert.equal(h.generations.find((x) => x.number === 2)?.knownGood, true);
    const rec = await loadRecord(w.ctx.paths);
    assert.equal(rec?.finished?.outcome, "completed");
    assert.equal(r.data.next, null);
  } finally {
    await w.cleanup();
  }
});

test("roll: a crashing profile is reverted to known-good, its batch finishes, the rest is untouched; exit 13", async () => {
  const w = await world();
  try {
    await breakProfile(w, "b", 'CRASH="1"');
    const before = w.env("b");
    const r = await run(w, { maxParallel: 2 });
    assert.equal(r.exitCode, ExitCode.rollHalted);
    assert.equal(r.data.outcome, "halted");
    const report = r.data.rolls[0]!;
    assert.deepEqual(outcomes(report), { a: "rolled", b: "reverted", c: "untouched", d: "untouched", e: "untouched" });
    const b = report.profiles.find((p) => p.name === "b")!;
    assert.equal(b.failure, "crashed");
    assert.match(b.reason!, /exited with status 78/);
    assert.equal(b.revertedTo, 1);
    assert.notEqual(w.env("b"), before);
    assert.doesNotMatch(w.env("b"), /CRASH/);
    const h = await history(w.ctx.paths, "b");
    assert.deepEqual(h.generations.map((x) => [x.number, x.knownGood]), [[1, true], [2, false], [3, true]]);
    assert.match(h.generations[2]!.reason, /revert to 1 \(crashed\)/);
    for (const n of ["c", "d", "e"]) assert.equal(w.restarts(n), 0, n);
    assert.match(r.text, /reverted   b: crashed: it exited with status 78.*back on known-good generation 1/);
    assert.match(r.text, /untouched  c/);
    assert.match(r.data.next!, /profiles roll b c d e/);
  } finally {
    await w.cleanup();
  }
});

test("roll: health 500, never answering, and a restart during min-healthy-time are each reverted with their reason", async () => {
  const w = await world();
  try {
    const cases: [string, string, string, RegExp][] = [
      ["a", 'HEALTH="500"', "health-status", /health returned 500/],
      ["b", 'SILENT="1"', "no-answer", /health never answered within 0.5 s \(refused\)/],
      ["c", 'FLAKY="1"', "crashed", /was restarted 1 time/],
    ];
    // FLAKY: up and healthy, then the manager restarts it 100 ms after its restart (unless started again since), and signals it.
    let starts = 0;
    const crashLater = w.systemd.onStart!;
    w.systemd.onStart = (unit, s) => {
      const start = ++starts;
      crashLater(unit, s);
      if (!w.env(profileOf(unit)).includes('FLAKY="1"')) return;
      setTimeout(() => {
        if (start !== starts) return;
        s.nRestarts++;
        w.systemd.changed(unit);
      }, 100);
    };
    for (const [name, line, kind, reason] of cases) {
      await breakProfile(w, name, line);
      const r = await run(w, { names: [name, "e"], minHealthyTime: 0.3, healthyDeadline: 0.5 });
      assert.equal(r.exitCode, ExitCode.rollHalted, name);
      const p = r.data.rolls[0]!.profiles[0]!;
      assert.deepEqual([p.outcome, p.failure], ["reverted", kind], name);
      assert.match(p.reason!, reason);
      assert.equal(r.data.rolls[0]!.profiles[1]!.outcome, "untouched");
      assert.doesNotMatch(w.env(name), new RegExp(line));
    }
    assert.equal(w.restarts("e"), 0);
  } finally {
    await w.cleanup();
  }
});

test("roll --no-auto-revert leaves the failing .env; a profile already on known-good has nothing to revert to", async () => {
  const w = await world();
  try {
    await breakProfile(w, "a", 'CRASH="1"');
    const broken = w.env("a");
    const r = await run(w, { names: ["a", "b"], autoRevert: false });
    assert.equal(r.exitCode, ExitCode.rollHalted);
    const a = r.data.rolls[0]!.profiles[0]!;
    assert.deepEqual([a.outcome, a.failure, a.revertProblem], ["failed", "crashed", "not reverted (--no-auto-revert)"]);
    assert.equal(w.env("a"), broken);
    // The file is fine but the gateway is not: reverting to another file cannot help.
    w.prober.verdicts.set(8601, { ok: false, reason: "status 503", status: 503, latencyMs: 1 });
    const same = await run(w, { names: ["b"] });
    const b = same.data.rolls[0]!.profiles[0]!;
    assert.equal(b.outcome, "failed");
    assert.match(b.revertProblem!, /nothing to revert to: its .env already is known-good generation 1/);
    assert.match(same.text, /FAILED     b: health returned 503/);
  } finally {
    await w.cleanup();
  }
});

test("roll: the progress deadline fails a profile that keeps the roll from moving", async () => {
  const w = await world();
  try {
    await breakProfile(w, "a", 'SILENT="1"');
    const r = await run(w, { names: ["a"], healthyDeadline: 0.4, progressDeadline: 0.4 });
    const a = r.data.rolls[0]!.profiles[0]!;
    assert.equal(a.failure, "progress-deadline");
    assert.match(a.reason!, /progress deadline passed \(0.4 s without a profile turning healthy\)/);
    assert.equal(a.outcome, "reverted");
  } finally {
    await w.cleanup();
  }
});

test("roll: a stop request is honoured between batches; the next roll says so and finishes the rest", async () => {
  const w = await world();
  try {
    const rec = new RollRecorder(w.ctx.paths, newRecord(null, { maxParallel: 2, canary: 0, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, planRoll(NAMES, { canary: 0, maxParallel: 2 })));
    let batches = 0;
    const observer = { batchStarted: () => void batches++, note: () => {} };
    const outcome = await runRoll(w.ctx, rec, { observer, stopRequested: () => (batches >= 1 ? "SIGTERM" : null), pollMs: 5 });
    assert.equal(outcome, "interrupted");
    const left = await loadRecord(w.ctx.paths);
    assert.equal(left?.finished, null);
    assert.deepEqual(Object.values(left!.profiles).map((p) => p.state), ["rolled", "rolled", "pending", "pending", "pending"]);
    const r = await run(w, { maxParallel: 1 });
    assert.equal(r.exitCode, ExitCode.ok);
    assert.equal(r.data.previous?.stoppedBy, "SIGTERM");
    const report = r.data.rolls[0]!;
    assert.equal(r.data.rolls.length, 1, "a bare roll only finishes the interrupted one");
    assert.equal(report.resumed, true);
    assert.equal(report.options.maxParallel, 2, "it keeps its own options");
    assert.deepEqual(outcomes(report), { a: "rolled", b: "rolled", c: "rolled", d: "rolled", e: "rolled" });
    for (const n of NAMES) assert.equal(w.restarts(n), 1, n);
  } finally {
    await w.cleanup();
  }
});

test("roll record: changes made while a write is in flight share the one write after it, and every change is on disk", async () => {
  const w = await world();
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    class Counting extends RollRecorder {
      writes = 0;
      protected override async write(): Promise<void> {
        // The first write waits until the test lets it go: the changes below are made while it is in flight.
        if (++this.writes === 1) await held;
        await super.write();
      }
    }
    const rec = new Counting(w.ctx.paths, newRecord(null, { maxParallel: 5, canary: 0, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, planRoll(NAMES, { canary: 0, maxParallel: 5 })));
    const [first, ...rest] = NAMES.map((n, i) => [n, i] as const);
    const marks = [rec.update(first![0], { state: "rolling", pidBefore: 1000 })];
    while (rec.writes === 0) await Promise.resolve();
    for (const [n, i] of rest) marks.push(rec.update(n, { state: "rolling", pidBefore: 1000 + i }));
    release();
    await Promise.all(marks);
    assert.equal(rec.writes, 2, "the write in flight, then one write for the four changes made meanwhile");
    const disk = await loadRecord(w.ctx.paths);
    assert.deepEqual(Object.fromEntries(Object.entries(disk!.profiles).map(([n, p]) => [n, [p.state, p.pidBefore]])), { a: ["rolling", 1000], b: ["rolling", 1001], c: ["rolling", 1002], d: ["rolling", 1003], e: ["rolling", 1004] });
    // A change after the writes are done gets a write of its own.
    await rec.update("a", { state: "rolled" });
    assert.equal(rec.writes, 3);
    assert.equal((await loadRecord(w.ctx.paths))!.profiles.a!.state, "rolled");
  } finally {
    await w.cleanup();
  }
});

/** A record as a killed roll leaves it: written, then the process gone mid-batch. */
async function leftByKill(w: World, states: Record<string, Partial<RollRecord["profiles"][string]>>): Promise<void> {
  const rec = new RollRecorder(w.ctx.paths, newRecord(null, { maxParallel: 1, canary: 0, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, planRoll(NAMES, { canary: 0, maxParallel: 1 })));
  rec.record.pid = 4_000_000;
  for (const [n, patch] of Object.entries(states)) Object.assign(rec.record.profiles[n]!, patch);
  await rec.save();
}

test("roll after a kill: the profile left mid-roll is restarted and gated again, pending ones follow, rolled ones stay", async () => {
  const w = await world();
  try {
    await leftByKill(w, { a: { state: "rolled", pidAfter: 1 }, b: { state: "rolling", pidBefore: 1002, attempts: 1 } });
    const r = await run(w, {});
    assert.equal(r.exitCode, ExitCode.ok);
    assert.equal(r.data.previous?.stoppedBy, null);
    assert.deepEqual(r.data.previous?.states, { a: "rolled", b: "rolling", c: "pending", d: "pending", e: "pending" });
    assert.deepEqual(outcomes(r.data.rolls[0]!), { a: "rolled", b: "rolled", c: "rolled", d: "rolled", e: "rolled" });
    const b = r.data.rolls[0]!.profiles[1]!;
    assert.deepEqual([b.attempts, b.pidBefore], [2, 1002]);
    assert.equal(w.restarts("a"), 0);
    assert.match(r.text, /an earlier roll .* ended without finishing \(process 4000000 was killed or crashed\)/);
    assert.match(r.text, /b was mid-roll: restarted and gated again/);
  } finally {
    await w.cleanup();
  }
});

test("roll after a kill mid-revert: the revert is finished and the roll halts", async () => {
  const w = await world();
  try {
    await breakProfile(w, "b", 'CRASH="1"');
    await leftByKill(w, { a: { state: "rolled" }, b: { state: "reverting", revertedTo: 1, failure: "crashed", reason: "crashed: it exited with status 78" } });
    const r = await run(w, {});
    assert.equal(r.exitCode, ExitCode.rollHalted);
    assert.deepEqual(outcomes(r.data.rolls[0]!), { a: "rolled", b: "reverted", c: "untouched", d: "untouched", e: "untouched" });
    assert.doesNotMatch(w.env("b"), /CRASH/);
    assert.equal(w.restarts("c"), 0);
  } finally {
    await w.cleanup();
  }
});

test("roll NAMES after an interrupted roll of others: the old one is finished first, then the one asked for", async () => {
  const w = await world();
  try {
    await leftByKill(w, { a: { state: "rolled" }, b: { state: "rolled" }, c: { state: "rolled" }, d: { state: "rolled" } });
    const r = await run(w, { names: ["a"] });
    assert.equal(r.exitCode, ExitCode.ok);
    assert.deepEqual(r.data.rolls.map((x) => [x.resumed, x.profiles.map((p) => `${p.name}:${p.outcome}`).join(" ")]), [[true, "a:rolled b:rolled c:rolled d:rolled e:rolled"], [false, "a:rolled"]]);
    assert.deepEqual([w.restarts("a"), w.restarts("e")], [1, 1]);
  } finally {
    await w.cleanup();
  }
});

test("roll --dry-run prints the plan and writes nothing, also with an unfinished roll on record", async () => {
  const w = await world();
  try {
    const before = await snapshot(w.home);
    const r = await run(w, { dryRun: true, canary: 2, maxParallel: 2 });
    assert.equal(r.exitCode, ExitCode.ok);
    assert.deepEqual(r.data.rolls[0]!.plan.map((b) => b.names), [["a", "b"], ["c", "d"], ["e"]]);
    assert.match(r.text, /dry run: nothing was restarted or written/);
    assert.deepEqual(await snapshot(w.home), before);
    await leftByKill(w, { a: { state: "rolled" } });
    const withRecord = await snapshot(w.home);
    const again = await run(w, { dryRun: true, names: ["e"] });
    assert.deepEqual(again.data.rolls.map((x) => [x.resumed, x.profiles.map((p) => p.name).join("")]), [[true, "abcde"], [false, "e"]]);
    assert.equal(again.data.previous?.states.a, "rolled");
    assert.deepEqual(await snapshot(w.home), withRecord);
    assert.equal(w.systemd.calls.filter((c) => c.startsWith("restart")).length, 0);
  } finally {
    await w.cleanup();
  }
});

test("roll: bad names and flags, unknown profiles, a second roll: their exit codes, nothing written", async () => {
  const w = await world();
  try {
    const before = await snapshot(w.home);
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ names: ["../x"] }, ExitCode.usage, /invalid profile name/],
      [{ names: ["a", "a"] }, ExitCode.usage, /"a" is named twice/],
      [{ names: ["nosuch"] }, ExitCode.notFound, /"nosuch" does not exist/],
      [{ maxParallel: 0 }, ExitCode.usage, /--max-parallel/],
      [{ healthyDeadline: 1, minHealthyTime: 2 }, ExitCode.usage, /--healthy-deadline/],
    ];
    for (const [over, code, message] of cases) {
      await assert.rejects(run(w, over), (e: unknown) => e instanceof AppError && e.exitCode === code && message.test(e.message), JSON.stringify(over));
    }
    assert.deepEqual(await snapshot(w.home), before);
    const lock = await acquireLock(w.ctx.paths.locksDir, "roll", "profiles roll (the other one)", 0);
    try {
      const busy = await snapshot(w.home);
      await assert.rejects(run(w), (e: unknown) => e instanceof AppError && e.exitCode === ExitCode.busy && /another roll is running .*profiles roll \(the other one\)/.test(e.message));
      assert.deepEqual(await snapshot(w.home), busy);
    } finally {
      await lock.release();
    }
    assert.equal(w.systemd.calls.filter((c) => c.startsWith("restart")).length, 0);
  } finally {
    await w.cleanup();
  }
});

test("roll: a .env that does not parse is not restarted but reverted", async () => {
  const w = await world();
  try {
    await breakProfile(w, "a", "not an assignment");
    const r = await run(w, { names: ["a"] });
    const a = r.data.rolls[0]!.profiles[0]!;
    assert.deepEqual([a.outcome, a.failure], ["reverted", "bad-env"]);
    assert.equal(w.restarts("a"), 1, "only the revert restarted it");
  } finally {
    await w.cleanup();
  }
});

test("the listr2 view follows a halted roll to its end", async () => {
  const w = await world();
  try {
    await breakProfile(w, "b", 'CRASH="1"');
    const view = await listrView("silent");
    const rec = new RollRecorder(w.ctx.paths, newRecord(null, { maxParallel: 1, canary: 1, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, planRoll(NAMES, { canary: 1, maxParallel: 1 })));
    rec.onChange = (n, e) => view.changed(n, e);
    await view.begin(rec);
    const outcome = await runRoll(w.ctx, rec, { observer: view, stopRequested: () => null, pollMs: 5 });
    await view.end();
    assert.equal(outcome, "halted");
  } finally {
    await w.cleanup();
  }
});

test("roll: a failed profile goes back to the newest known-good generation whose file is intact, naming the corrupt ones it skipped", async () => {
  const w = await world();
  try {
    const genFile = (n: number) => path.join(generationsDir(w.ctx.paths, "b"), `${n}.env`);
    await breakProfile(w, "b", 'A="2"');
    await markCurrent(w.ctx.paths, "b");
    await flipBit(genFile(2));
    await breakProfile(w, "b", 'CRASH="1"');
    const r = await run(w, { names: ["b"] });
    const b = r.data.rolls[0]!.profiles[0]!;
    assert.deepEqual([b.outcome, b.revertedTo], ["reverted", 1]);
    assert.deepEqual(b.revertSkipped?.map((c) => [c.number, c.file]), [[2, genFile(2)]]);
    assert.match(r.text, /reverted   b: crashed.*back on known-good generation 1 \(skipped corrupt generation: \S+\/2\.env does not hold the bytes of generation 2 \(sha256 [0-9a-f]{12}… expected, [0-9a-f]{12}… found\)\)/);
    assert.equal(w.env("b"), await readGeneration(w.ctx.paths, "b", 1));
    assert.deepEqual((await loadRecord(w.ctx.paths))!.profiles.b!.revertSkipped!.map((c) => c.number), [2]);

    // Every known-good generation corrupt: nothing is put back, and the line says which were skipped.
    await breakProfile(w, "b", 'CRASH="1"');
    for (const n of [1, 4]) await truncateHalf(genFile(n));
    const broken = w.env("b");
    const again = await run(w, { names: ["b"] });
    const b2 = again.data.rolls[0]!.profiles[0]!;
    assert.equal(b2.outcome, "failed");
    assert.match(b2.revertProblem!, /nothing to revert to: every known-good generation is corrupt/);
    assert.deepEqual(b2.revertSkipped?.map((c) => c.number), [4, 2, 1]);
    assert.match(again.text, /FAILED     b: .*every known-good generation is corrupt .*\(skipped corrupt generations: \S+\/4\.env .*; \S+\/2\.env .*; \S+\/1\.env /);
    assert.equal(w.env("b"), broken);
    assert.equal((await history(w.ctx.paths, "b")).generations.filter((g) => g.knownGood).length, 3, "no generation marked known-good");
  } finally {
    await w.cleanup();
  }
});

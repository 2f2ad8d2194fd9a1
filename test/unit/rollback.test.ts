import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import rollback from "../../src/commands/rollback.js";
import set from "../../src/commands/set.js";
import { rollbackTarget } from "../../src/core/rollback.js";
import { withProfile } from "../../src/core/transaction.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { generationsDir, history, readGeneration } from "../../src/store/generations.js";
import { flipBit, truncateHalf } from "../helpers/corrupt.js";
import { fails } from "../helpers/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const UNIT = "agent-gateway@liam.service";

const rb = (extra: Record<string, unknown> = {}) => ({ ...g, name: "liam", restart: true, wait: 5, ...extra });
const setArgs = (pairs: string[], restart = true) => ({ ...g, name: "liam", pairs, restart, wait: 5 });

/** liam with generations 1 (add, good), 2 (A=2, good), 3 (A=3, good). */
async function world() {
  const w = await fakeWorld({ portRange: { from: 9500, to: 9520 } });
  await add.run({ ...g, name: "liam", start: true, wait: 5, env: ["A=1"] }, w.ctx);
  await set.run(setArgs(["A=2"]), w.ctx);
  await set.run(setArgs(["A=3"]), w.ctx);
  const file = () => fs.readFile(envFile(w.ctx.paths, "liam"), "utf8");
  const gens = async () => (await history(w.ctx.paths, "liam")).generations.map((x) => [x.number, x.reason, x.knownGood] as const);
  return { ...w, file, gens };
}

test("rollback: to the newest known-good generation before the current one, restarted and marked good", async () => {
  const w = await world();
  try {
    const restarts = w.systemd.calls.filter((c) => c === `restart ${UNIT}`).length;
    const r = await rollback.run(rb(), w.ctx);
    assert.deepEqual({ ...(r.data as object), pid: 0, elapsedMs: 0 }, { name: "liam", from: 3, to: 2, generation: 4, restarted: true, healthy: true, pid: 0, elapsedMs: 0, knownGood: { generation: 4 } });
    assert.match(r.text, /^liam: restored generation 2 as generation 4; restarted: healthy/);
    assert.equal(await w.file(), await readGeneration(w.ctx.paths, "liam", 2), "the exact bytes of generation 2");
    assert.deepEqual((await w.gens()).at(-1), [4, "rollback to 2", true]);
    assert.equal(w.systemd.calls.filter((c) => c === `restart ${UNIT}`).length, restarts + 1);
    // --to an older one, then rolling back that rollback returns to what was current before it.
    await rollback.run(rb({ to: "1" }), w.ctx);
    assert.equal(await w.file(), await readGeneration(w.ctx.paths, "liam", 1));
    const undo = await rollback.run(rb(), w.ctx);
    assert.equal((undo.data as { to: number }).to, 4);
    assert.equal(await w.file(), await readGeneration(w.ctx.paths, "liam", 2));
    assert.deepEqual((await w.gens()).slice(3), [[4, "rollback to 2", true], [5, "rollback to 1", true], [6, "rollback to 4", true]]);
  } finally {
    await w.cleanup();
  }
});

test("rollback: a failed state is reset first; the bad generation stays in history", async () => {
  const w = await world();
  try {
    w.systemd.crashing.add(UNIT);
    await assert.rejects(set.run(setArgs(["HOST=0.0.0.0"]), w.ctx), fails(ExitCode.unhealthy, /status 78/, /profiles rollback liam/));
    assert.equal((await w.systemd.state(UNIT)).activeState, "failed");
    w.systemd.crashing.clear();
    const r = await rollback.run(rb(), w.ctx);
    assert.deepEqual([(r.data as { to: number }).to, (r.data as { healthy: boolean }).healthy], [3, true]);
    assert.equal((await w.systemd.state(UNIT)).activeState, "active");
    assert.deepEqual((await w.gens()).slice(3), [[4, "set HOST", false], [5, "rollback to 3", true]]);
  } finally {
    await w.cleanup();
  }
});

test("rollback: still unhealthy after the restore exits 7 and keeps the restored file", async () => {
  const w = await world();
  try {
    await set.run(setArgs(["A=4"], false), w.ctx);
    w.systemd.crashing.add(UNIT);
    await assert.rejects(rollback.run(rb(), w.ctx), fails(ExitCode.unhealthy, /status 78 .*generation 3 is restored as generation 5/, /profiles history liam/));
    assert.equal(await w.file(), await readGeneration(w.ctx.paths, "liam", 3));
    assert.deepEqual((await w.gens()).at(-1), [5, "rollback to 3", false]);
  } finally {
    await w.cleanup();
  }
});

test("rollback --no-restart only restores the file; --to the current generation writes nothing", async () => {
  const w = await world();
  try {
    const calls = w.systemd.calls.length;
    const r = await rollback.run(rb({ restart: false }), w.ctx);
    assert.match(r.text, /restored generation 2 as generation 4; takes effect when it next restarts/);
    assert.equal(w.systemd.calls.length, calls);
    assert.deepEqual((await w.gens()).at(-1), [4, "rollback to 2", false]);
    const before = await snapshot(w.home);
    const same = await rollback.run(rb({ to: "4", restart: false }), w.ctx);
    assert.match(same.text, /generation 4 is already current; nothing written/);
    assert.deepEqual(await snapshot(w.home), before);
  } finally {
    await w.cleanup();
  }
});

test("rollback: bad input, no target, a taken port: exit code, and nothing changed", async () => {
  const w = await world();
  try {
    await add.run({ ...g, name: "fresh", start: true, wait: 5 }, w.ctx);
    // liam moved from 9500 to 9502; "other" then took 9500: going back would collide.
    await set.run(setArgs(["PORT=9502"]), w.ctx);
    await add.run({ ...g, name: "other", start: true, wait: 5, port: "9500" }, w.ctx);
    const before = await snapshot(w.home);
    const calls = w.systemd.calls.length;
    const cases: [() => Promise<unknown>, number, RegExp, RegExp?][] = [
      [() => rollback.run(rb({ to: "99" }), w.ctx), ExitCode.usage, /no generation 99 \(kept: 1, 2, 3, 4\)/, /profiles history liam/],
      [() => rollback.run(rb({ to: "0" }), w.ctx), ExitCode.usage, /--to "0" must be a generation number/],
      [() => rollback.run(rb({ to: "two" }), w.ctx), ExitCode.usage, /--to "two"/],
      [() => rollback.run(rb({ to: "-1" }), w.ctx), ExitCode.usage, /--to "-1"/],
      [() => rollback.run(rb({ wait: -1 }), w.ctx), ExitCode.usage, /--wait/],
      [() => rollback.run(rb({ name: "Bad!" }), w.ctx), ExitCode.usage, /invalid profile name/],
      [() => rollback.run(rb({ name: "nope" }), w.ctx), ExitCode.notFound, /does not exist/],
      [() => rollback.run(rb({ name: "fresh" }), w.ctx), ExitCode.failed, /"fresh" has no known-good generation older than generation 1/, /profiles history fresh/],
      [() => rollback.run(rb({ to: "1" }), w.ctx), ExitCode.portTaken, /port 9500 is taken by profile "other"/],
      [() => rollback.run(rb(), w.ctx), ExitCode.portTaken, /port 9500/],
    ];
    for (const [run, code, message, hint] of cases) await assert.rejects(run(), fails(code, message, hint));
    assert.deepEqual(await snapshot(w.home), before);
    assert.equal(w.systemd.calls.length, calls);
  } finally {
    await w.cleanup();
  }
});

test("rollbackTarget and a transaction's restore, as roll uses them", async () => {
  const w = await world();
  try {
    let h = await history(w.ctx.paths, "liam");
    assert.equal(rollbackTarget(h)?.number, 2);
    // A hand edit: every generation is older; the newest good one that differs from the file is the target.
    await fs.appendFile(envFile(w.ctx.paths, "liam"), "HAND=1\n");
    h = await history(w.ctx.paths, "liam");
    assert.equal(h.current, null);
    assert.equal(rollbackTarget(h)?.number, 3);
    const restore = (name: string, n: number, reason: string) => withProfile(w.ctx, name, { command: "test", ports: true }, (tx) => tx.restore(n, reason));
    const gen = await restore("liam", 3, "roll: revert to 3");
    assert.equal(gen.number, 5, "the hand edit is kept as 4 first");
    assert.deepEqual((await w.gens()).slice(3), [[4, "found on disk (edited by hand)", false], [5, "roll: revert to 3", false]]);
    assert.match(await readGeneration(w.ctx.paths, "liam", 4), /HAND=1/);
    await assert.rejects(restore("liam", 42, "x"), fails(ExitCode.usage));
    await assert.rejects(restore("gone", 1, "x"), fails(ExitCode.notFound));
  } finally {
    await w.cleanup();
  }
});

test("rollback: a corrupt default target is skipped and named; every candidate or --to corrupt is exit 12 with nothing changed", async () => {
  const w = await world();
  try {
    const genFile = (n: number) => path.join(generationsDir(w.ctx.paths, "liam"), `${n}.env`);
    await flipBit(genFile(2));
    const r = await rollback.run({ ...rb(), json: false }, w.ctx);
    const data = r.data as { to: number; skipped: { number: number; file: string }[] };
    assert.equal(data.to, 1);
    assert.deepEqual(data.skipped.map((c) => [c.number, c.file]), [[2, genFile(2)]]);
    assert.match(r.text, new RegExp(`^liam: skipped generation 2, corrupt: ${genFile(2)} does not hold the bytes of generation 2 .*\\nliam: restored generation 1 as generation 4`));
    assert.equal(await w.file(), await readGeneration(w.ctx.paths, "liam", 1));

    // From 4 (= 1's bytes) the candidates are 3 and 2 (2 corrupt): 3 is intact, so break it too.
    await truncateHalf(genFile(3));
    const before = await snapshot(w.home);
    const calls = w.systemd.calls.length;
    await assert.rejects(rollback.run(rb(), w.ctx), fails(ExitCode.badFile, new RegExp(`^${genFile(3)}: does not hold the bytes of generation 3`), /profiles doctor/));
    await assert.rejects(rollback.run(rb({ to: "2" }), w.ctx), fails(ExitCode.badFile, new RegExp(`^${genFile(2)}: `)));
    await fs.rm(genFile(3));
    await assert.rejects(rollback.run(rb({ to: "3", restart: false }), w.ctx), fails(ExitCode.badFile, /is missing although index.json lists it/));
    delete before[genFile(3)];
    assert.deepEqual(await snapshot(w.home), before, "nothing written");
    assert.equal(w.systemd.calls.length, calls, "nothing restarted");
  } finally {
    await w.cleanup();
  }
});

/** The health gates vouch only for the unit's own port, and a profile without a usable port never starts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import add from "../../src/commands/add.js";
import roll from "../../src/commands/roll.js";
import rollback from "../../src/commands/rollback.js";
import set from "../../src/commands/set.js";
import { restart, start, stop } from "../../src/commands/start.js";
import type { RollReport } from "../../src/core/roll/report.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { commitEnvText, history } from "../../src/store/generations.js";
import { unitName } from "../../src/systemd/types.js";
import { fails } from "../helpers/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const SQUATTER = { pid: 4242, command: "python3" };

/** Profiles a, b, c on ports 9500-9502, each healthy at a known-good generation 1. */
async function world() {
  const w = await fakeWorld({ portRange: { from: 9500, to: 9509 } });
  for (const name of ["a", "b", "c"]) await add.run({ ...g, name, start: true, wait: 5 }, w.ctx);
  const starts = () => w.systemd.calls.filter((c) => c.startsWith("start") || c.startsWith("restart")).length;
  const marks = async (name: string) => (await history(w.ctx.paths, name)).generations.map((x) => [x.number, x.knownGood]);
  const write = (name: string, text: string) => fs.writeFile(envFile(w.ctx.paths, name), text, { mode: 0o600 });
  return Object.assign(w, { starts, marks, write });
}

test("start and restart refuse a port that another process holds or another profile records, before starting (exit 5)", async () => {
  const w = await world();
  try {
    await stop.run({ ...g, names: ["a"], wait: 5 }, w.ctx);
    const before = w.starts();
    w.ports.listeners.set(9500, { port: 9500, ...SQUATTER });
    await assert.rejects(start.run({ ...g, names: ["a"], wait: 1 }, w.ctx), fails(ExitCode.portTaken, /^port 9500 is taken by process 4242 \(python3\)$/, /profiles set a PORT=N/));
    w.ports.listeners.set(9500, { port: 9500 });
    await assert.rejects(start.run({ ...g, names: ["c", "a"], wait: 1 }, w.ctx), fails(ExitCode.portTaken, /port 9500 is taken by another process \(not visible to this user\)/));
    w.ports.listeners.delete(9500);
    // A hand edit puts b on a's port: neither may (re)start while both record it.
    await w.write("b", 'PORT="9500"\n');
    await assert.rejects(restart.run({ ...g, names: ["b"], wait: 1 }, w.ctx), fails(ExitCode.portTaken, /port 9500 is taken by profile "a"/));
    await assert.rejects(start.run({ ...g, names: ["a"], wait: 1 }, w.ctx), fails(ExitCode.portTaken, /port 9500 is taken by profile "b"/));
    assert.equal(w.starts(), before, "nothing was started");
    assert.equal((await history(w.ctx.paths, "b")).current, null, "the hand edit is no generation, let alone a known-good one");
    // Its own gateway on the port is no collision.
    const pid = (await w.systemd.state(unitName("c"))).mainPid;
    w.ports.listeners.set(9502, { port: 9502, pid, command: "node" });
    assert.equal((await restart.run({ ...g, names: ["c"], wait: 1 }, w.ctx)).exitCode, ExitCode.ok);
  } finally {
    await w.cleanup();
  }
});

test("the gate fails a start whose probe another process answered, naming it; nothing is marked known-good", async () => {
  const w = await world();
  try {
    await set.run({ ...g, name: "a", pairs: ["LOG_LEVEL=debug"], restart: false, wait: 5 }, w.ctx);
    await stop.run({ ...g, names: ["a"], wait: 5 }, w.ctx);
    // The squatter takes the port between start's check and the gateway's bind.
    w.systemd.onStart = (unit) => {
      if (unit === unitName("a")) w.ports.listeners.set(9500, { port: 9500, ...SQUATTER });
    };
    const r = await start.run({ ...g, names: ["a"], wait: 1 }, w.ctx);
    assert.equal(r.exitCode, ExitCode.unhealthy);
    assert.match(r.text, /FAILED a: port 9500 is held by process 4242 \(python3\), not by agent-gateway@a\.service: the health answers came from it/);
    assert.deepEqual(await w.marks("a"), [[1, true], [2, false]]);
    // A child of the gateway, in its unit's cgroup, listening is the unit's own.
    w.owners.procs.cgroups.set(4242, unitName("a"));
    assert.equal((await start.run({ ...g, names: ["a"], wait: 1 }, w.ctx)).exitCode, ExitCode.ok);
    assert.deepEqual(await w.marks("a"), [[1, true], [2, true]]);
  } finally {
    await w.cleanup();
  }
});

test("the gate fails when the main PID changes under it, and says when another process holds the port of a failed unit", async () => {
  const w = await world();
  try {
    let reads = 0;
    w.systemd.onStart = () => (reads = 0);
    w.systemd.onState = (unit, s) => {
      if (unit === unitName("a") && ++reads === 2) s.mainPid += 100;
    };
    const r = await restart.run({ ...g, names: ["a"], wait: 1 }, w.ctx);
    assert.match(r.text, /FAILED a: its main process changed from (\d+) to \d+/);
    w.systemd.onState = undefined;
    w.systemd.crashing.add(unitName("b"));
    w.systemd.onStart = (unit) => {
      if (unit === unitName("b")) w.ports.listeners.set(9501, { port: 9501, ...SQUATTER });
    };
    const b = await restart.run({ ...g, names: ["b"], wait: 1 }, w.ctx);
    assert.match(b.text, /FAILED b: the unit failed: it exited with status 78 \(result exit-code\); port 9501 is held by process 4242 \(python3\), not by agent-gateway@b\.service/);
  } finally {
    await w.cleanup();
  }
});

test("a .env without a usable port: start, restart, roll, set --restart and rollback exit 12 naming the file; nothing starts or is written", async () => {
  const w = await world();
  try {
    const file = envFile(w.ctx.paths, "a");
    const before = w.starts();
    for (const [text, problem] of [['PORT="80"\n', /PORT="80" is not a port from 1024 to 65535/], ['LOG_LEVEL="debug"\n', /PORT is not set, so the gateway has no port/]] as const) {
      await w.write("a", text);
      const files = await snapshot(w.home);
      const named = fails(ExitCode.badFile, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${problem.source}`), /profiles set a PORT=N/);
      await assert.rejects(start.run({ ...g, names: ["a"], wait: 1 }, w.ctx), named);
      await assert.rejects(restart.run({ ...g, names: ["b", "a"], wait: 1 }, w.ctx), named);
      await assert.rejects(roll.run({ ...g, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, dryRun: false } as never, w.ctx), named);
      await assert.rejects(set.run({ ...g, name: "a", pairs: ["X=1"], restart: true, wait: 1 }, w.ctx), named);
      assert.deepEqual(await snapshot(w.home), files, "nothing was written");
    }
    // Without a restart, set still writes (nothing starts): the generation has no port.
    assert.equal((await set.run({ ...g, name: "a", pairs: ["X=1"], restart: false, wait: 1 }, w.ctx)).exitCode, undefined);
    // A generation without a port is not restored by a rollback that would restart it; without a restart it is.
    await w.write("a", 'PORT="9500"\n');
    const h = await history(w.ctx.paths, "a");
    const portless = h.generations.at(-1)!.number;
    await commitEnvText(w.ctx.paths, "a", 'PORT="9500"\nY="2"\n', "set (test)");
    const files = await snapshot(w.home);
    await assert.rejects(
      rollback.run({ ...g, name: "a", to: String(portless), restart: true, wait: 1 }, w.ctx),
      fails(ExitCode.badFile, new RegExp(`generations/a/${portless}\\.env: PORT is not set`), /profiles history a/),
    );
    assert.deepEqual(await snapshot(w.home), files);
    assert.equal(w.starts(), before, "nothing was started");
    assert.equal(((await rollback.run({ ...g, name: "a", to: String(portless), restart: false, wait: 1 }, w.ctx)).data as { restarted: boolean }).restarted, false);
  } finally {
    await w.cleanup();
  }
});

test("roll: a squatter on a profile's port fails its gate (port-taken); reverted, the roll halts; the port is looked at twice per gate, not per probe", async () => {
  const w = await world();
  const rollArgs = (over: Record<string, unknown> = {}) => ({ ...g, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, dryRun: false, ...over }) as never;
  try {
    w.owners.asked = 0;
    assert.equal((await roll.run(rollArgs(), w.ctx)).exitCode, ExitCode.ok);
    assert.equal(w.owners.asked, 3, "once per gate without a min-healthy-time");
    w.owners.asked = 0;
    const probes = w.prober.seen.length;
    assert.equal((await roll.run(rollArgs({ minHealthyTime: 0.1 }), w.ctx)).exitCode, ExitCode.ok);
    assert.ok(w.prober.seen.length - probes > 3 * 5, "probed all through the min-healthy-time");
    assert.equal(w.owners.asked, 6, "when the probe first passes and at the end");

    await set.run({ ...g, name: "b", pairs: ["LOG_LEVEL=debug"], restart: false, wait: 5 }, w.ctx);
    w.systemd.onStart = (unit) => {
      if (unit === unitName("b")) w.ports.listeners.set(9501, { port: 9501, ...SQUATTER });
    };
    const r = await roll.run(rollArgs(), w.ctx);
    assert.equal(r.exitCode, ExitCode.rollHalted);
    const report = (r.data as { rolls: RollReport[] }).rolls[0]!;
    const b = report.profiles.find((p) => p.name === "b")!;
    assert.equal(b.failure, "port-taken");
    assert.match(b.reason!, /^port 9501 is held by process 4242 \(python3\), not by agent-gateway@b\.service: the health answers came from it$/);
    assert.equal(b.revertedTo, 1);
    assert.match(b.revertProblem ?? "", /still not healthy: port 9501 is held by process 4242/);
    assert.equal(report.profiles.find((p) => p.name === "c")!.outcome, "untouched");
    // Neither the change nor the revert ran healthy.
    assert.deepEqual((await w.marks("b")).slice(-2), [[2, false], [3, false]]);
  } finally {
    await w.cleanup();
  }
});

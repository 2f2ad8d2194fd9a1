import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import add from "../../src/commands/add.js";
import limits from "../../src/commands/limits.js";
import set from "../../src/commands/set.js";
import status from "../../src/commands/status.js";
import { rollbackProfile } from "../../src/core/rollback.js";
import { limitsText } from "../../src/core/limits-in-force.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { history } from "../../src/store/generations.js";
import { limitsDropIn, limitsFile } from "../../src/store/limits.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const hasCode = (code: number) => (err: unknown) => err instanceof AppError && err.exitCode === code;

async function world() {
  const w = await fakeWorld();
  await add.run({ ...g, name: "liam", start: true, wait: 5 }, w.ctx);
  return w;
}

test("limits: writes the drop-in (0644) and limits.json, reloads the manager, keeps a generation", async () => {
  const w = await world();
  try {
    const reloads = w.systemd.reloads;
    const r = await limits.run({ ...g, name: "liam", memoryMax: "512m", cpuQuota: "50", tasksMax: "64", restartSec: "0.5" }, w.ctx);
    const dropIn = await fs.readFile(limitsDropIn(w.ctx.paths, "liam"), "utf8");
    assert.match(dropIn, /^\[Service\]\nMemoryMax=512M\nCPUQuota=50%\nTasksMax=64\nRestartSec=0.5s\n/m);
    assert.equal((await fs.stat(limitsDropIn(w.ctx.paths, "liam"))).mode & 0o777, 0o644);
    assert.equal((await fs.stat(limitsFile(w.ctx.paths, "liam"))).mode & 0o777, 0o600);
    assert.equal(w.systemd.reloads, reloads + 1);
    assert.equal((r.data as { changed: boolean }).changed, true);
    const h = await history(w.ctx.paths, "liam");
    const last = h.generations.at(-1)!;
    assert.equal(h.current, last.number);
    assert.deepEqual(last.limits, { MemoryMax: "512M", CPUQuota: "50%", TasksMax: "64", RestartSec: "0.5s" });
    assert.match(last.reason, /^limits MemoryMax=512M CPUQuota=50% TasksMax=64 RestartSec=0.5s$/);
    // The same values again: nothing written, no reload.
    const again = await limits.run({ ...g, name: "liam", memoryMax: "512M" }, w.ctx);
    assert.equal((again.data as { changed: boolean }).changed, false);
    assert.equal(w.systemd.reloads, reloads + 1);
    // "" removes one; --reset removes all and the drop-in with them.
    await limits.run({ ...g, name: "liam", cpuQuota: "" }, w.ctx);
    assert.doesNotMatch(await fs.readFile(limitsDropIn(w.ctx.paths, "liam"), "utf8"), /CPUQuota/);
    await limits.run({ ...g, name: "liam", reset: true }, w.ctx);
    await assert.rejects(fs.stat(limitsDropIn(w.ctx.paths, "liam")), { code: "ENOENT" });
  } finally {
    await w.cleanup();
  }
});

test("limits: bad values exit 2 and write nothing", async () => {
  const w = await world();
  try {
    await limits.run({ ...g, name: "liam", memoryMax: "1G" }, w.ctx);
    const before = await snapshot(w.home);
    const reloads = w.systemd.reloads;
    for (const bad of [{ memoryMax: "lots" }, { memoryMax: "10K" }, { memoryMax: "-1M" }, { memoryMax: "17000000T" }, { memoryMax: "16777216T" }, { memoryMax: "16777215.5T" }, { memoryMax: "17179869183.5G" }, { cpuQuota: "0%" }, { cpuQuota: "1.5%" }, { cpuQuota: "x" }, { tasksMax: "0" }, { tasksMax: "1e3" }, { restartSec: "-1" }, { restartSec: "5min" }, { restartSec: "9999" }]) {
      await assert.rejects(limits.run({ ...g, name: "liam", memoryMax: "2G", ...bad }, w.ctx), hasCode(ExitCode.usage), JSON.stringify(bad));
    }
    await assert.rejects(limits.run({ ...g, name: "nosuch", memoryMax: "1G" }, w.ctx), hasCode(ExitCode.notFound));
    await assert.rejects(limits.run({ ...g, name: "Bad!", memoryMax: "1G" }, w.ctx), hasCode(ExitCode.usage));
    assert.deepEqual(await snapshot(w.home), before);
    assert.equal(w.systemd.reloads, reloads);
  } finally {
    await w.cleanup();
  }
});

test("limits: a rollback restores the limits of the generation it restores, and reloads the manager", async () => {
  const w = await world();
  try {
    await limits.run({ ...g, name: "liam", memoryMax: "256M" }, w.ctx);
    const withLimits = (await history(w.ctx.paths, "liam")).current!;
    await set.run({ ...g, name: "liam", pairs: ["LOG_LEVEL=debug"], restart: false, wait: 5 } as never, w.ctx);
    await limits.run({ ...g, name: "liam", memoryMax: "1G", tasksMax: "32" }, w.ctx);
    assert.match(await fs.readFile(limitsDropIn(w.ctx.paths, "liam"), "utf8"), /MemoryMax=1G\nTasksMax=32/);
    const reloads = w.systemd.reloads;
    await rollbackProfile(w.ctx, "liam", { to: withLimits, restart: false, waitMs: 1000 });
    const dropIn = await fs.readFile(limitsDropIn(w.ctx.paths, "liam"), "utf8");
    assert.match(dropIn, /MemoryMax=256M\n/);
    assert.doesNotMatch(dropIn, /TasksMax/);
    assert.equal(w.systemd.reloads, reloads + 1);
    assert.deepEqual((await history(w.ctx.paths, "liam")).generations.at(-1)!.limits, { MemoryMax: "256M" });
    // The generation from `add` had no limits: rolling back to it removes the drop-in.
    await rollbackProfile(w.ctx, "liam", { to: 1, restart: false, waitMs: 1000 });
    await assert.rejects(fs.stat(limitsDropIn(w.ctx.paths, "liam")), { code: "ENOENT" });
  } finally {
    await w.cleanup();
  }
});

test("status shows the limits the manager reports", async () => {
  const w = await world();
  try {
    w.systemd.props.set("agent-gateway@liam.service", { MemoryMax: 512 * 1024 ** 2, CPUQuotaPerSecUSec: 500_000, TasksMax: 64, RestartUSec: 5_000_000 });
    const r = await status.run({ ...g, name: "liam" } as never, w.ctx);
    assert.deepEqual((r.data as { limits: unknown }).limits, { MemoryMax: 512 * 1024 ** 2, CPUQuotaPerSecUSec: 500_000, TasksMax: 64, RestartUSec: 5_000_000 });
    assert.match(r.text, /limits: memory 512M, cpu 50%, tasks 64, restart after 5s/);
    assert.equal(limitsText({ MemoryMax: "infinity", CPUQuotaPerSecUSec: "infinity", TasksMax: "infinity", RestartUSec: 100_000 }), "memory no limit, cpu no limit, tasks no limit, restart after 0.1s");
  } finally {
    await w.cleanup();
  }
});

test("limitsNotEnforced: by the manager's delegated controllers; where they cannot be read, by an unset MemoryCurrent/TasksCurrent of a running unit", async () => {
  const { limitsNotEnforced } = await import("../../src/core/limits-bite.js");
  const { FakeSystemd } = await import("../helpers/fakes.js");
  const sd = new FakeSystemd();
  const unit = "agent-gateway@x.service";
  assert.deepEqual(await limitsNotEnforced(sd, unit, {}), []);
  sd.props.set(unit, { ActiveState: "active", MemoryCurrent: "infinity", TasksCurrent: 3 });
  assert.deepEqual((await limitsNotEnforced(sd, unit, { MemoryMax: "20M", TasksMax: "64", CPUQuota: "50%" })).map((n) => n.limit), ["MemoryMax"]);
  sd.props.set(unit, { ActiveState: "inactive", MemoryCurrent: "infinity" });
  assert.deepEqual(await limitsNotEnforced(sd, unit, { MemoryMax: "20M" }), [], "not running: the accounting tells nothing");
  assert.deepEqual(await limitsNotEnforced(sd, unit, { MemoryMax: "infinity" }), []);
});

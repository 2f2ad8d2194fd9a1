import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import add from "../../src/commands/add.js";
import init from "../../src/commands/init.js";
import limits from "../../src/commands/limits.js";
import set from "../../src/commands/set.js";
import { rollbackProfile } from "../../src/core/rollback.js";
import { history } from "../../src/store/generations.js";
import { writeFileIfChanged } from "../../src/store/atomic.js";
import { limitsFile } from "../../src/store/limits.js";
import { fakeWorld } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
type LimitsData = { changed: boolean; reloaded: boolean };
const limitsRun = async (ctx: Parameters<typeof limits.run>[1], extra: Record<string, unknown> = {}) =>
  (await limits.run({ ...g, name: "liam", ...extra }, ctx)).data as LimitsData;
const LONG_AGO = new Date("2001-01-01T00:00:00Z");

test("writeFileIfChanged: writes new or other bytes; the same bytes leave the file and its mtime alone, mode set", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-write-"));
  try {
    const file = path.join(dir, "x.service");
    assert.equal(await writeFileIfChanged(file, "[Unit]\n", 0o644), true);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o644);
    await fs.utimes(file, LONG_AGO, LONG_AGO);
    await fs.chmod(file, 0o600);
    assert.equal(await writeFileIfChanged(file, Buffer.from("[Unit]\n"), 0o644), false);
    const st = await fs.stat(file);
    assert.equal(st.mtimeMs, LONG_AGO.getTime());
    assert.equal(st.mode & 0o777, 0o644);
    assert.equal(await writeFileIfChanged(file, "[Unit]\nDescription=x\n", 0o644), true);
    assert.equal(await fs.readFile(file, "utf8"), "[Unit]\nDescription=x\n");
    assert.deepEqual(await fs.readdir(dir), ["x.service"]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("init: reloads only when a unit file changed, was removed, or the manager says a unit of ours needs it", async () => {
  const w = await fakeWorld();
  try {
    const run = async (extra: Record<string, unknown> = {}) => {
      const before = w.systemd.reloads;
      const r = await init.run({ ...g, ...extra }, w.ctx);
      const { reloaded, templateChanged } = r.data as { reloaded: boolean; templateChanged: boolean };
      assert.equal(reloaded, w.systemd.reloads === before + 1, "data.reloaded tells the truth");
      return { reloaded, templateChanged };
    };
    assert.deepEqual(await run(), { reloaded: true, templateChanged: true }, "the first run installs");
    await add.run({ ...g, name: "liam", start: true, wait: 5 }, w.ctx);
    const calls = w.systemd.calls.length;
    assert.equal((await run()).reloaded, false, "same flags, same bytes");
    assert.deepEqual(w.systemd.calls.slice(calls), ["enable agent-profiles-sweep.timer", "start agent-profiles-sweep.timer"]);
    assert.equal((await run({ range: "9000-9099" })).reloaded, false, "config.ini is no unit file");
    assert.deepEqual(await run({ stopTimeout: "40" }), { reloaded: true, templateChanged: true });
    assert.deepEqual(await run(), { reloaded: false, templateChanged: false });
    // A unit file edited by hand since the last reload: rewriting the same bytes would hide it from the manager.
    w.systemd.props.set("agent-gateway@liam.service", { NeedDaemonReload: true });
    assert.deepEqual(await run(), { reloaded: true, templateChanged: false });
    w.systemd.props.set("agent-gateway@liam.service", { NeedDaemonReload: false });
    w.systemd.props.set("agent-profiles-sweep.timer", { NeedDaemonReload: true });
    assert.equal((await run()).reloaded, true);
    w.systemd.props.clear();
    assert.equal((await run({ sweep: false })).reloaded, true, "the sweep units removed");
    assert.equal((await run()).reloaded, false, "--no-sweep is remembered: nothing to remove");
    assert.equal((await run({ sweep: true })).reloaded, true, "the sweep units written again");
  } finally {
    await w.cleanup();
  }
});

test("limits and rollback: reload when the drop-in's bytes change, not when they stay", async () => {
  const w = await fakeWorld();
  try {
    await add.run({ ...g, name: "liam", start: true, wait: 5 }, w.ctx);
    await limitsRun(w.ctx, { memoryMax: "256M" });
    const withLimits = (await history(w.ctx.paths, "liam")).current!;
    await set.run({ ...g, name: "liam", pairs: ["LOG_LEVEL=debug"], restart: false, wait: 5 } as never, w.ctx);
    let reloads = w.systemd.reloads;
    // The generation carries the same limits as now: the .env comes back, the drop-in stays as it is.
    await rollbackProfile(w.ctx, "liam", { to: withLimits, restart: false, waitMs: 1000 });
    assert.equal(w.systemd.reloads, reloads);
    assert.equal((await limitsRun(w.ctx)).reloaded, false, "showing reloads nothing");
    // limits.json says otherwise than the drop-in (edited by hand): setting 256M writes no new drop-in bytes.
    await fs.writeFile(limitsFile(w.ctx.paths, "liam"), "{}\n");
    const same = await limitsRun(w.ctx, { memoryMax: "256M" });
    assert.deepEqual([same.changed, same.reloaded, w.systemd.reloads], [true, false, reloads]);
    // ... unless the manager has not read that drop-in yet.
    await fs.writeFile(limitsFile(w.ctx.paths, "liam"), "{}\n");
    w.systemd.props.set("agent-gateway@liam.service", { NeedDaemonReload: true });
    assert.equal((await limitsRun(w.ctx, { memoryMax: "256M" })).reloaded, true);
    reloads = w.systemd.reloads;
    assert.equal((await limitsRun(w.ctx, { memoryMax: "1G" })).reloaded, true);
    await rollbackProfile(w.ctx, "liam", { to: withLimits, restart: false, waitMs: 1000 });
    assert.equal(w.systemd.reloads, reloads + 2);
  } finally {
    await w.cleanup();
  }
});

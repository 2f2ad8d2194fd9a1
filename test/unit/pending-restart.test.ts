import { test } from "node:test";
import assert from "node:assert/strict";
import add from "../../src/commands/add.js";
import list from "../../src/commands/list.js";
import set from "../../src/commands/set.js";
import unset from "../../src/commands/unset.js";
import type { ProfileStatusRunning } from "../../src/core/inspect.js";
import { runningVsDisk } from "../../src/core/pending-restart.js";
import { fakeWorld } from "../helpers/fakes.js";

const g = { json: true, verbose: false };

test("pending restart: judged from the process's environment against the .env, an unset key included; which generation runs", async () => {
  const w = await fakeWorld();
  try {
    await add.run({ ...g, name: "a", port: "8601", env: ["LOG_LEVEL=info", "EXTRA=1"], start: true, wait: 5 }, w.ctx);
    const row = async () => ((await list.run({ ...g }, w.ctx)).data as ProfileStatusRunning[])[0]!;
    const pid = (await row()).pid!;
    assert.ok(pid > 0);
    assert.deepEqual(await runningVsDisk(w.ctx, "a", pid), { pendingRestart: null, generationOnDisk: null, generationRunning: null }, "an environment that cannot be read: unknown");
    // The process started with generation 1 (plus what the manager adds).
    const started = new Map([["PORT", "8601"], ["LOG_LEVEL", "info"], ["EXTRA", "1"], ["HOME", "/home/x"]]);
    w.owners.procs.environOf = (p) => (p === pid ? started : null);
    assert.deepEqual(await runningVsDisk(w.ctx, "a", pid), { pendingRestart: false, generationOnDisk: 1, generationRunning: 1 });
    await set.run({ ...g, name: "a", pairs: ["LOG_LEVEL=debug"], restart: false, wait: 5 }, w.ctx);
    const r = await row();
    assert.deepEqual([r.pendingRestart, r.generationOnDisk, r.generationRunning], [true, 2, 1]);
    assert.match((await list.run({ ...g }, w.ctx)).text, /pending restart \(the \.env changed since the gateway started\): a; `profiles roll --changed` applies it/);
    // Back to what runs: LOG_LEVEL as it started, but EXTRA unset since: still pending.
    await set.run({ ...g, name: "a", pairs: ["LOG_LEVEL=info"], restart: false, wait: 5 }, w.ctx);
    assert.equal((await runningVsDisk(w.ctx, "a", pid)).pendingRestart, false);
    await unset.run({ ...g, name: "a", keys: ["EXTRA"], restart: false, wait: 5 }, w.ctx);
    assert.deepEqual(await runningVsDisk(w.ctx, "a", pid), { pendingRestart: true, generationOnDisk: 4, generationRunning: 3 });
    assert.deepEqual(await runningVsDisk(w.ctx, "a", null), { pendingRestart: null, generationOnDisk: null, generationRunning: null });
  } finally {
    await w.cleanup();
  }
});

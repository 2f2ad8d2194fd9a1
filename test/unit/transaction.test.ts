import { test } from "node:test";
import assert from "node:assert/strict";
import add from "../../src/commands/add.js";
import set from "../../src/commands/set.js";
import { startedWith } from "../../src/core/started-with.js";
import { history } from "../../src/store/generations.js";
import { fakeWorld } from "../helpers/fakes.js";

const g = { json: true, verbose: false };

test("startedWith: every key of the generation with exactly its bytes; extra variables do not matter", () => {
  const entries = new Map([["PORT", "9400"], ["NAME", "zoë"]]);
  const env = new Map([["PORT", "9400"], ["NAME", Buffer.from("zoë").toString("latin1")], ["PATH", "/bin"]]);
  assert.deepEqual(startedWith(env, entries), { verdict: "same" });
  assert.deepEqual(startedWith(new Map([["PORT", "9401"]]), entries), { verdict: "different", keys: ["NAME", "PORT"] });
  assert.deepEqual(startedWith(null, entries), { verdict: "unknown" });
});

test("set --restart marks known-good only the generation the healthy process's environment holds", async () => {
  const w = await fakeWorld({ portRange: { from: 9400, to: 9420 } });
  try {
    await add.run({ ...g, name: "liam", start: true, wait: 5, env: ["A=1"] }, w.ctx);
    // The process "started with" A=2, as a hand edit between the pin and the exec would make it.
    w.owners.procs.environOf = () => new Map([["PORT", "9400"], ["A", "2"]]);
    const r = await set.run({ ...g, name: "liam", pairs: ["A=3"], restart: true, wait: 5 }, w.ctx);
    const { knownGood, pid } = r.data as { knownGood: { generation: number | null; why: string }; pid: number };
    assert.deepEqual(knownGood, { generation: null, why: `process ${pid} did not start with generation 2 (A differ: the .env was changed by hand during the start)` });
    assert.match(r.text, /not marked known-good: process \d+ did not start with generation 2/);
    assert.deepEqual((await history(w.ctx.paths, "liam")).generations.map((x) => x.knownGood), [true, false]);
    w.owners.procs.environOf = () => new Map([["PORT", "9400"], ["A", "3"]]);
    const again = await set.run({ ...g, name: "liam", pairs: ["A=3"], restart: true, wait: 5 }, w.ctx);
    assert.deepEqual((again.data as { knownGood: unknown }).knownGood, { generation: 2 });
  } finally {
    await w.cleanup();
  }
});

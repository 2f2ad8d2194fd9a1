import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import add from "../../src/commands/add.js";
import roll from "../../src/commands/roll.js";
import { planRoll } from "../../src/core/roll/plan.js";
import { newRecord, recordFile, type RollRecord } from "../../src/core/roll/record.js";
import { BadFileError, ExitCode } from "../../src/errors.js";
import { bootId, startTicks } from "../../src/processes/identity.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const rollArgs = (over: Record<string, unknown> = {}) => ({ ...g, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, dryRun: false, ...over });

async function world() {
  const w = await fakeWorld();
  for (const n of ["a", "b"]) await add.run({ ...g, name: n, start: true, wait: 5 }, w.ctx);
  return w;
}

/** An unfinished record of a roll of a and b, as a killed roll leaves it, changed by `edit`. */
function unfinished(edit: (r: RollRecord) => void = () => {}): RollRecord {
  const r = newRecord(null, { maxParallel: 1, canary: 0, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, planRoll(["a", "b"], { canary: 0, maxParallel: 1 }));
  r.profiles.a!.state = "rolling";
  edit(r);
  return r;
}

test("roll.json that does not parse or does not hold together: exit 12 naming it, the mv that sets it aside, nothing written", async () => {
  const w = await world();
  try {
    const file = recordFile(w.ctx.paths);
    const json = (edit: (r: RollRecord & Record<string, unknown>) => void) => JSON.stringify(unfinished(edit as (r: RollRecord) => void));
    const cases: [string, string, RegExp][] = [
      ["garbage bytes", "\u0000\u00ff{roll", /is not valid JSON/],
      ["truncated", json(() => {}).slice(0, 40), /is not valid JSON/],
      ["wrong shape", JSON.stringify({ version: 1, plan: "everything" }), /: /],
      ["an array", "[]", /: /],
      ["an invalid name in the plan", json((r) => (r.plan[0]!.names[0] = "../../x")), /plan\.0\.names\.0: not a profile name/],
      ["an invalid name as a key", json((r) => (r.profiles["Bad Name"] = r.profiles.b!)), /profiles.*not a profile name/],
      ["an invalid name asked for", json((r) => (r.requested = ["a", "-x"])), /requested\.1: not a profile name/],
      ["a planned profile without an entry", json((r) => delete r.profiles.b), /"b" is planned but has no entry/],
      ["an entry not in the plan", json((r) => (r.profiles.c = r.profiles.b!)), /profiles\.c: not in the plan/],
      ["a profile planned twice", json((r) => r.plan.push({ kind: "batch", names: ["a"] })), /"a" is planned twice/],
    ];
    for (const [why, text, problem] of cases) {
      await fs.writeFile(file, text, { mode: 0o600 });
      const before = await snapshot(w.home);
      for (const dryRun of [false, true]) {
        await assert.rejects(roll.run(rollArgs({ dryRun }) as never, w.ctx), (e: unknown) => {
          assert.ok(e instanceof BadFileError, `${why}: ${String(e)}`);
          assert.equal(e.exitCode, ExitCode.badFile);
          assert.ok(e.message.startsWith(`${file}: `), e.message);
          assert.match(e.message, problem, why);
          assert.ok(e.hint?.includes(`\`mv ${file} ${file}.bad\``), e.hint);
          return true;
        });
        assert.deepEqual(await snapshot(w.home), before, `${why}: something was written`);
      }
    }
    assert.equal(w.systemd.calls.filter((c) => c.startsWith("restart")).length, 0);
  } finally {
    await w.cleanup();
  }
});

test("roll.json of an older version (no start time or boot id) still resumes", async () => {
  const w = await world();
  try {
    const r = unfinished() as Partial<RollRecord>;
    delete r.startTicks;
    delete r.bootId;
    await fs.writeFile(recordFile(w.ctx.paths), JSON.stringify({ ...r, pid: 4_000_000 }), { mode: 0o600 });
    const out = await roll.run(rollArgs() as never, w.ctx);
    assert.equal(out.exitCode, ExitCode.ok);
    assert.equal((out.data as { rolls: { resumed: boolean }[] }).rolls[0]!.resumed, true);
  } finally {
    await w.cleanup();
  }
});

test("roll --dry-run says an unfinished roll is running only when its very process still runs", async () => {
  const w = await world();
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e6)"], { stdio: "ignore" });
  try {
    await new Promise((r) => child.once("spawn", r));
    const pid = child.pid!;
    const running = async (id: Partial<RollRecord>) => {
      await fs.writeFile(recordFile(w.ctx.paths), JSON.stringify(unfinished((r) => Object.assign(r, id))), { mode: 0o600 });
      const out = await roll.run(rollArgs({ dryRun: true }) as never, w.ctx);
      return (out.data as { previous: { running: boolean } }).previous.running;
    };
    assert.equal(await running({ pid, startTicks: startTicks(pid), bootId: bootId() }), true);
    assert.equal(await running({ pid, startTicks: startTicks(pid)! + 1, bootId: bootId() }), false);
    assert.equal(await running({ pid, startTicks: startTicks(pid), bootId: "00000000-0000-0000-0000-000000000000" }), false);
    assert.equal(await running({ pid: 1, startTicks: startTicks(1)! + 1, bootId: bootId() }), false);
  } finally {
    child.kill("SIGKILL");
    await w.cleanup();
  }
});

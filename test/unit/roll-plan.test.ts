import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRollOptions, ROLL_DEFAULTS, type RollFlags } from "../../src/core/roll/options.js";
import { planRoll } from "../../src/core/roll/plan.js";
import { stateFailure } from "../../src/core/roll/failure.js";
import { UsageError } from "../../src/errors.js";
import type { UnitState } from "../../src/systemd/types.js";

const names = ["a", "b", "c", "d", "e"];
const shape = (plan: ReturnType<typeof planRoll>) => plan.map((b) => `${b.kind}:${b.names.join("")}`);

test("plan: one at a time by default, in the order given", () => {
  assert.deepEqual(shape(planRoll(names, { canary: 0, maxParallel: 1 })), ["batch:a", "batch:b", "batch:c", "batch:d", "batch:e"]);
  assert.deepEqual(shape(planRoll(["e", "a", "c"], { canary: 0, maxParallel: 1 })), ["batch:e", "batch:a", "batch:c"]);
});

test("plan: canaries first as one batch, then batches of max-parallel, the last one short", () => {
  assert.deepEqual(shape(planRoll(names, { canary: 1, maxParallel: 2 })), ["canary:a", "batch:bc", "batch:de"]);
  assert.deepEqual(shape(planRoll(names, { canary: 2, maxParallel: 2 })), ["canary:ab", "batch:cd", "batch:e"]);
  assert.deepEqual(shape(planRoll(names, { canary: 3, maxParallel: 1 })), ["canary:abc", "batch:d", "batch:e"]);
  assert.deepEqual(shape(planRoll(names, { canary: 0, maxParallel: 10 })), ["batch:abcde"]);
});

test("plan: more canaries than profiles makes all of them canaries; no profiles, no batches", () => {
  assert.deepEqual(shape(planRoll(names, { canary: 9, maxParallel: 2 })), ["canary:abcde"]);
  assert.deepEqual(planRoll([], { canary: 1, maxParallel: 1 }), []);
});

const flags = (over: Partial<RollFlags> = {}): RollFlags => ({ ...ROLL_DEFAULTS, autoRevert: true, ...over });

test("options: defaults in milliseconds", () => {
  assert.deepEqual(parseRollOptions(flags()), { maxParallel: 1, canary: 0, minHealthyMs: 5000, healthyDeadlineMs: 30000, progressDeadlineMs: 300000, autoRevert: true });
  assert.equal(parseRollOptions(flags({ minHealthyTime: 0, healthyDeadline: 0.5, progressDeadline: 0 })).minHealthyMs, 0);
});

test("options: each bad flag is a usage error naming the flag and the rule", () => {
  const cases: [Partial<RollFlags>, RegExp][] = [
    [{ maxParallel: 0 }, /--max-parallel 0: must be at least 1/],
    [{ maxParallel: 1.5 }, /--max-parallel 1.5: must be a whole number/],
    [{ maxParallel: NaN }, /--max-parallel \(not a number\)/],
    [{ canary: -1 }, /--canary -1: must be at least 0/],
    [{ minHealthyTime: -2 }, /--min-healthy-time -2: must not be negative/],
    [{ healthyDeadline: 0 }, /--healthy-deadline 0: must be more than 0/],
    [{ healthyDeadline: 5, minHealthyTime: 5 }, /--healthy-deadline 5: must be longer than --min-healthy-time/],
    [{ progressDeadline: 10 }, /--progress-deadline 10: must be 0 \(no limit\) or at least --healthy-deadline \(30\)/],
    [{ progressDeadline: 1e9 }, /at most 86400 seconds/],
  ];
  for (const [over, message] of cases) {
    assert.throws(() => parseRollOptions(flags(over)), (e: unknown) => e instanceof UsageError && message.test(e.message), JSON.stringify(over));
  }
});

const unit = (over: Partial<UnitState>): UnitState => ({ name: "u", loadState: "loaded", activeState: "active", subState: "running", mainPid: 5, nRestarts: 0, result: "success", execMainStatus: 0, execMainCode: 0, ...over });

test("gate: unit states that fail a profile at once, each with its precise reason", () => {
  assert.equal(stateFailure(unit({}), 0), null);
  assert.equal(stateFailure(unit({ activeState: "activating", subState: "start" }), 0), null);
  const cases: [Partial<UnitState>, string, RegExp][] = [
    [{ activeState: "failed", subState: "failed", result: "exit-code", execMainCode: 1, execMainStatus: 78 }, "crashed", /crashed: it exited with status 78 and the unit failed/],
    [{ activeState: "failed", subState: "failed", result: "signal", execMainCode: 2, execMainStatus: 9 }, "crashed", /killed by signal 9/],
    [{ activeState: "failed", subState: "failed", result: "start-limit-hit", execMainCode: 1, execMainStatus: 1 }, "start-limit-hit", /start-limit-hit/],
    [{ activeState: "failed", subState: "failed", result: "timeout" }, "unit-failed", /result timeout/],
    [{ activeState: "activating", subState: "auto-restart", execMainCode: 1, execMainStatus: 1 }, "crashed", /exited with status 1 and is waiting to be restarted/],
    [{ nRestarts: 2, execMainCode: 2, execMainStatus: 11 }, "crashed", /killed by signal 11 and was restarted 2 time/],
    [{ activeState: "inactive", subState: "dead", execMainCode: 1, execMainStatus: 0 }, "stopped", /stopped: it exited with status 0/],
  ];
  for (const [over, kind, message] of cases) {
    const f = stateFailure(unit(over), 0);
    assert.equal(f?.kind, kind, JSON.stringify(over));
    assert.match(f!.message, message);
  }
});

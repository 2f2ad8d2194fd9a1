import { test } from "node:test";
import assert from "node:assert/strict";
import { plainView } from "../../src/core/roll/view.js";
import type { ProfileEntry } from "../../src/core/roll/record.js";

const base: ProfileEntry = {
  state: "rolling", batch: 0, generation: 2, revertedTo: null, failure: null, reason: null, revertProblem: null,
  details: [], pidBefore: 10, pidAfter: null, attempts: 1, startedAt: null, endedAt: null,
};

test("plain view: one line per new state, however often an entry changes within it", () => {
  const lines: string[] = [];
  const view = plainView((l) => lines.push(l));
  const failing = { ...base, state: "reverting" as const, failure: "crashed" as const, reason: "crashed: it exited with status 78" };
  view.changed("b", base);
  view.changed("b", failing);
  view.changed("b", { ...failing, revertedTo: 1 });
  view.changed("b", { ...failing, revertedTo: 1, pidAfter: 12 });
  view.changed("b", { ...failing, state: "reverted", revertedTo: 1, pidAfter: 12 });
  assert.equal(lines.filter((l) => l.includes("FAILED its gate")).length, 1, lines.join("\n"));
  assert.equal(lines.filter((l) => /reverted\s+b:/.test(l)).length, 1, lines.join("\n"));
});

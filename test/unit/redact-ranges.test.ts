import assert from "node:assert/strict";
import test from "node:test";
import { redactText } from "../../src/redact.js";
import { MASK, noteEntries } from "../../src/secrets.js";

// Run once with a few secrets noted (a search per form) and once with many (the index): the same masks.
test("secrets that overlap or touch leave nothing of either, whichever way they are searched", () => {
  noteEntries(new Map([["A_TOKEN", "prefix12XY"], ["B_TOKEN", "XYlongsecretvalue99"], ["C_TOKEN", "abcdefgh"]]));
  const cases: [string, string][] = [
    ["[prefix12XYlongsecretvalue99]", `[${MASK}]`],
    ["abcdefghabcdefgh", `${MASK}${MASK}`],
    ["x prefix12XY y XYlongsecretvalue99 z", `x ${MASK} y ${MASK} z`],
    ["nothing here", "nothing here"],
  ];
  for (const [text, want] of cases) assert.equal(redactText(text), want, `few: ${text}`);
  noteEntries(new Map(Array.from({ length: 100 }, (_, i) => [`K${i}_TOKEN`, `other-secret-${i}`])));
  for (const [text, want] of cases) assert.equal(redactText(text), want, `many: ${text}`);
  assert.equal(redactText("other-secret-7 and other-secret-77"), `${MASK} and ${MASK}`);
});

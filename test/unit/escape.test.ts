import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import diff from "../../src/commands/diff.js";
import env from "../../src/commands/env.js";
import history from "../../src/commands/history.js";
import { renderReport } from "../../src/commands/doctor.js";
import { envFile } from "../../src/paths.js";
import { escapeControls, escapeLines } from "../../src/render/escape.js";
import { generationsDir } from "../../src/store/generations.js";
import { fakeWorld } from "../helpers/fakes.js";

// Any C0 control, DEL or C1 control left in text for a terminal.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

test("escapeControls: ESC, tab, newline and CR by name, the other controls as \\xNN; the rest as it is", () => {
  assert.equal(escapeControls("a\x1b[31mb\x07c\rd\te\nf\x00g\x7fh\x9bi\x01"), "a\\e[31mb\\x07c\\rd\\te\\nf\\x00g\\x7fh\\x9bi\\x01");
  assert.equal(escapeControls('héllo ✓ "q" \\e $x \u00a0'), 'héllo ✓ "q" \\e $x \u00a0');
  assert.equal(escapeLines("one\x1b]0;title\x07\ntwo\r\n"), "one\\e]0;title\\x07\ntwo\\r\n");
});

test("env, diff, history: a hand-edited value with ESC and BEL is escaped for people and exact in JSON", async () => {
  const w = await fakeWorld({ portRange: { from: 9440, to: 9450 } });
  try {
    const g = { json: false, verbose: false };
    await add.run({ ...g, name: "liam", start: true, wait: 5, env: ["A=1"] }, w.ctx);
    const value = "\x1b[2J\x1b]0;pwned\x07red\x9b";
    await fs.appendFile(envFile(w.ctx.paths, "liam"), `BANNER="${value}"\nRAW\x1b[1m=x\n`);
    const e = await env.run({ ...g, name: "liam", showSecrets: false }, w.ctx);
    assert.match(e.text, /^BANNER="\\e\[2J\\e\]0;pwned\\x07red\\x9b"$/m);
    assert.match(e.text, /^# line \d+: key "RAW\\e\[1m" must start/m);
    assert.doesNotMatch(e.text, RAW_CONTROL);
    assert.equal((e.data as { variables: Record<string, string> }).variables.BANNER, value);
    const d = await diff.run({ ...g, name: "liam" }, w.ctx);
    assert.match(d.text, /^\+ BANNER="\\e\[2J\\e\]0;pwned\\x07red\\x9b"$/m);
    assert.doesNotMatch(d.text, RAW_CONTROL);
    assert.equal((d.data as { differences: { new: string }[] }).differences[0]!.new, value);

    // A reason in index.json edited by hand: escaped in the table, exact in JSON.
    const index = path.join(generationsDir(w.ctx.paths, "liam"), "index.json");
    await fs.writeFile(index, (await fs.readFile(index, "utf8")).replace('"reason": "add"', '"reason": "add\\u001b[5m\\u0007"'));
    const h = await history.run({ ...g, name: "liam" }, w.ctx);
    assert.match(h.text, /add\\e\[5m\\x07/);
    assert.doesNotMatch(h.text, RAW_CONTROL);
    assert.equal((h.data as { generations: { reason: string }[] }).generations[0]!.reason, "add\x1b[5m\x07");

    const report = { ok: false, problems: 1, checks: [{ id: "x", title: "t", status: "problem" as const, message: `bad ${value}`, problems: [] }], fixes: [`fix ${value}`] };
    const text = renderReport(report, true, true);
    assert.match(text, /^\x1b\[31m✗\x1b\[0m t: bad \\e\[2J/m, "doctor keeps its own colours, escapes the rest");
    assert.match(text, /fix \\e\[2J/);
  } finally {
    await w.cleanup();
  }
});

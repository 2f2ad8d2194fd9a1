import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import add from "../../src/commands/add.js";
import diff from "../../src/commands/diff.js";
import env from "../../src/commands/env.js";
import rollback from "../../src/commands/rollback.js";
import set from "../../src/commands/set.js";
import { restart, start } from "../../src/commands/start.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { argsNotUtf8 } from "../../src/processes/cmdline.js";
import { escapeControls } from "../../src/render/escape.js";
import { decodeBytes, encodeText, firstRawByte } from "../../src/store/bytes.js";
import { parseEnv, serializeEnv, systemdUtf8Problem, valueProblem } from "../../src/store/envfile.js";
import { generationFile, history, readGeneration, sha256 } from "../../src/store/generations.js";
import { prng } from "../reliability/util.js";
import { fails } from "../helpers/errors.js";
import { fakeWorld } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

test("decodeBytes then encodeText gives back every byte sequence exactly; UTF-8 decodes as itself", () => {
  const cases = [
    "78ff79", // a lone 0xFF
    "eda080", // a UTF-16 surrogate encoded in UTF-8: not UTF-8
    "c0af", // overlong "/"
    "f4908080", // past U+10FFFF
    "f09f92", // a 4-byte sequence cut short
    "f09f9280", // U+1F480, whose UTF-16 low half is U+DC80: not an escape
    "e282ac ff f09f9280 80",
    "c5bcc3b3c582 7720f09f90a2",
  ];
  for (const c of cases) assert.deepEqual(encodeText(decodeBytes(hex(c))), hex(c), c);
  assert.equal(decodeBytes(hex("c5bcc3b3c582")), "żół");
  assert.equal(decodeBytes(hex("f09f9280")), "\u{1F480}");
  assert.equal(decodeBytes(hex("78ff79")), "x\uDCFFy");
  assert.equal(firstRawByte(decodeBytes(hex("f09f9280"))), null);
  assert.equal(firstRawByte(decodeBytes(hex("41 c3 28"))), 0xc3);
  const rand = prng(11);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 16));
    for (let j = 0; j < b.length; j++) b[j] = rand() < 0.5 ? Math.floor(rand() * 256) : [0xf0, 0x9f, 0x92, 0x80, 0xed, 0xb2, 0x80, 0xc3][j % 8]!;
    assert.deepEqual(encodeText(decodeBytes(b)), b, b.toString("hex"));
  }
});

test("a value that is not UTF-8 parses as itself, is refused as systemd refuses it, and serializes back to its bytes", () => {
  const bytes = Buffer.concat([Buffer.from('PORT="9400"\n# comment \xff is fine\nBIN="a', "latin1"), hex("ff fe"), Buffer.from('b"\nRAW=x', "latin1"), hex("c0"), Buffer.from("\n")]);
  const { entries, problems, refused } = parseEnv(decodeBytes(bytes));
  assert.deepEqual(problems, []);
  assert.deepEqual(refused.map((r) => [r.line, r.key]), [[3, "BIN"], [4, "RAW"]]);
  assert.match(refused[0]!.message, /^the value of BIN is not valid UTF-8 \(byte \\xff\): systemd refuses the whole file \("Failed to load environment files"\)/);
  const out = encodeText(serializeEnv(entries));
  assert.ok(out.includes(Buffer.concat([Buffer.from('BIN="a'), hex("fffe"), Buffer.from('b"')])), out.toString("latin1"));
  assert.ok(out.includes(Buffer.concat([Buffer.from('RAW="x'), hex("c0"), Buffer.from('"')])));
  assert.deepEqual(parseEnv(decodeBytes(out)).entries, entries);
  // A key that is not UTF-8 fails the file too (systemd checks it before the key's form).
  assert.match(parseEnv(decodeBytes(Buffer.concat([Buffer.from("K"), hex("ff"), Buffer.from("=1\n")]))).problems[0]!.message, /is not valid UTF-8 \(byte \\xff\): systemd refuses the whole file/);
});

test("systemd's UTF-8 rule: noncharacters are refused, other unicode is fine; argv values with them are refused", () => {
  for (const bad of ["\uFFFE", "\uFFFF", "\uFDD0", "\uFDEF", "\u{1FFFE}", "\u{10FFFF}"]) assert.match(systemdUtf8Problem(`a${bad}`) ?? "", /noncharacter/, bad);
  for (const ok of ["", "żółw 🐢 日本", "\uFFFD", "\uFDCF", "\uFDF0", "\u{1F480}", "\u{10FFFD}"]) assert.equal(systemdUtf8Problem(ok), null, ok);
  assert.match(valueProblem("x\uFFFE") ?? "", /noncharacter: systemd refuses the whole file/);
  assert.equal(valueProblem("\uFFFD"), null, "a U+FFFD typed on purpose is UTF-8");
});

test("raw bytes print as \\xNN, astral characters as themselves", () => {
  assert.equal(escapeControls(decodeBytes(hex("41 ff 42 f09f9280 c3"))), "A\\xffB\u{1F480}\\xc3");
});

test("argsNotUtf8: only this process's own argv is looked up in /proc/self/cmdline", () => {
  assert.deepEqual(argsNotUtf8(["set", "x", "K=\uFFFD"]), []);
  assert.deepEqual(argsNotUtf8(["set", "x", "K=v"]), []);
});

async function handEdited() {
  const w = await fakeWorld({ portRange: { from: 9400, to: 9420 } });
  await add.run({ ...g, name: "p", start: true, wait: 5, env: [] }, w.ctx);
  const file = envFile(w.ctx.paths, "p");
  const hand = Buffer.concat([await fs.readFile(file), Buffer.from("BIN=x"), hex("ff"), Buffer.from("y\n")]);
  await fs.writeFile(file, hand);
  return { w, file, hand };
}

test("set of another key keeps a value that is not UTF-8 byte for byte, in the .env and in both generations", async () => {
  const { w, file, hand } = await handEdited();
  try {
    await set.run({ ...g, name: "p", pairs: ["OTHER=1"], restart: false, wait: 5 }, w.ctx);
    const now = await fs.readFile(file);
    assert.ok(now.includes(Buffer.concat([Buffer.from('BIN="x'), hex("ff"), Buffer.from('y"')])), now.toString("latin1"));
    assert.ok(!now.includes(hex("efbfbd")), "no U+FFFD");
    const h = await history(w.ctx.paths, "p");
    assert.deepEqual(h.generations.map((x) => [x.number, x.reason, x.changed]), [[1, "add", ["PORT"]], [2, "found on disk (edited by hand)", ["BIN"]], [3, "set OTHER", ["OTHER"]]]);
    assert.deepEqual(await fs.readFile(generationFile(w.ctx.paths, "p", 2)), hand, "the hand edit's exact bytes");
    assert.equal(h.generations[1]!.sha256, sha256(hand));
    assert.deepEqual(await fs.readFile(generationFile(w.ctx.paths, "p", 3)), now);
    assert.equal(h.generations[2]!.sha256, sha256(now));
    assert.equal(h.current, 3);
    assert.equal(encodeText(await readGeneration(w.ctx.paths, "p", 2)).equals(hand), true);
    // diff reads both sides as bytes: only OTHER changed.
    const d = await diff.run({ ...g, name: "p" } as never, w.ctx);
    assert.doesNotMatch(d.text, /BIN/);
  } finally {
    await w.cleanup();
  }
});

test("env warns about the value and shows it escaped; start, restart and set --restart refuse (exit 12) before the manager is asked", async () => {
  const { w, file } = await handEdited();
  try {
    const shown = await env.run({ ...g, name: "p", showSecrets: false }, w.ctx);
    assert.match(shown.text, /^BIN="x\\xffy"$/m);
    assert.match(shown.text, /^# WARNING line \d+: the value of BIN is not valid UTF-8 \(byte \\xff\): systemd refuses the whole file/m);
    assert.deepEqual((shown.data as { refused: { key: string }[] }).refused.map((r) => r.key), ["BIN"]);
    const calls = w.systemd.calls.length;
    const refused = fails(ExitCode.badFile, new RegExp(`^${file.replace(/[.]/g, "\\.")}: the value of BIN is not valid UTF-8`), /profiles set p BIN=/);
    await assert.rejects(start.run({ ...g, names: ["p"], wait: 1 }, w.ctx), refused);
    await assert.rejects(restart.run({ ...g, names: ["p"], wait: 1 }, w.ctx), refused);
    const before = await fs.readFile(file);
    await assert.rejects(set.run({ ...g, name: "p", pairs: ["OTHER=1"], restart: true, wait: 1 }, w.ctx), refused);
    assert.deepEqual(await fs.readFile(file), before, "nothing written");
    assert.equal(w.systemd.calls.length, calls, "the manager was asked nothing");
    // A rollback to a generation holding it is refused the same way, naming the generation's file.
    await set.run({ ...g, name: "p", pairs: ["BIN=fixed"], restart: false, wait: 5 }, w.ctx);
    await assert.rejects(rollback.run({ ...g, name: "p", to: 2, restart: true, wait: 1 } as never, w.ctx), fails(ExitCode.badFile, /2\.env: the value of BIN is not valid UTF-8/));
  } finally {
    await w.cleanup();
  }
});

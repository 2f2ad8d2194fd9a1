import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAssignment, parseEnv, serializeEnv, valueProblem } from "../../src/store/envfile.js";

const AWKWARD = [
  "plain",
  "two  spaces  inside",
  "  leading and trailing  ",
  'double "quotes" here',
  "single 'quotes' here",
  "hash # not a comment",
  "semi;colon",
  "a=b=c",
  "dollar $HOME and ${PATH} and $$",
  "back\\slash \\n \\\\ \\",
  "`backticks`",
  "unicode: żółw 🐢 日本",
  "tab\there",
  "",
];

test("every awkward value survives serialize then parse unchanged", () => {
  const entries = new Map(AWKWARD.map((v, i) => [`K${i}`, v]));
  const { entries: back, problems } = parseEnv(serializeEnv(entries, "header line"));
  assert.deepEqual(problems, []);
  assert.deepEqual([...back], [...entries]);
});

test("parser follows systemd: unquoted values trim, comments, escapes, concatenated quotes", () => {
  const text = [
    "# comment",
    "; also a comment",
    "A=  hello world   ",
    "B='single $x \\n'",
    'C="dq \\" \\$ \\\\ \\q"',
    "D=un\\ quoted\\#",
    "E=\"a\"'b'c",
    "F=",
    "  G = spaced key",
    "A=last wins",
  ].join("\n");
  const { entries, problems } = parseEnv(text);
  assert.deepEqual(problems, []);
  assert.equal(entries.get("A"), "last wins");
  assert.equal(entries.get("B"), "single $x \\n");
  assert.equal(entries.get("C"), 'dq " $ \\ \\q');
  assert.equal(entries.get("D"), "un quoted#");
  assert.equal(entries.get("E"), "abc");
  assert.equal(entries.get("F"), "");
  assert.equal(entries.get("G"), "spaced key");
});

test("parser reports what systemd would drop", () => {
  const { problems } = parseEnv("GOOD=1\nno equals here\n1BAD=x\nOPEN=\"never closed\n");
  const messages = problems.map((p) => `${p.line}: ${p.message}`);
  assert.equal(problems.length, 3, messages.join("; "));
  assert.match(messages[0]!, /^2: .*no "="/);
  assert.match(messages[1]!, /^3: key "1BAD"/);
  assert.match(messages[2]!, /^4: .*unclosed quote/);
});

test("problems name the line an editor shows: a CRLF file's lines are not counted twice", () => {
  const lines = ["A=1", "# a comment", "NOEQUALS", "B='two", "lines'", "9X=1", "C=3"];
  for (const eol of ["\n", "\r\n", "\r"]) {
    const { entries, problems } = parseEnv(lines.join(eol) + eol);
    assert.deepEqual(problems.map((p) => p.line), [3, 6], JSON.stringify(eol));
    assert.equal(entries.get("C"), "3");
  }
});

test("values systemd cannot carry are refused", () => {
  assert.match(valueProblem("a\nb")!, /line break/);
  assert.match(valueProblem("a\rb")!, /line break/);
  assert.match(valueProblem("a\0b")!, /NUL/);
  assert.match(valueProblem("\uD800")!, /unicode/);
  assert.equal(valueProblem("ok value"), null);
});

test("K=V arguments: first = splits, bad keys are named", () => {
  assert.deepEqual(parseAssignment("URL=http://x/?a=b"), { key: "URL", value: "http://x/?a=b" });
  assert.deepEqual(parseAssignment("EMPTY="), { key: "EMPTY", value: "" });
  for (const bad of ["noequals", "=value", "1X=y", "A-B=c", "SP ACE=x", "X=a\nb"]) {
    assert.ok("problem" in parseAssignment(bad), bad);
  }
  const pasted = parseAssignment("sk-live-123");
  assert.ok("problem" in pasted && !pasted.problem.includes("sk-live-123"), "a lone secret is not echoed");
});

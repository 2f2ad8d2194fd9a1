/**
 * A `.env` value that is not UTF-8, put there by hand, against the real manager: `set` of another key
 * keeps its bytes in the `.env` and in both generations; `env` warns and shows it escaped; `doctor`
 * reports it; `start`, `restart` and `roll` refuse (exit 12) before the manager is asked, and the manager
 * itself, asked directly, does refuse the file. On the command line such a value is refused (exit 2).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { type Sandbox, userPaths } from "../helpers/sandbox.js";
import { showUnit } from "../helpers/unit-props.js";
import { envFile, type Paths } from "../../src/paths.js";
import { generationFile, history } from "../../src/store/generations.js";
import { checkEnvFiles, healthStatus, initialisedSandbox } from "./util.js";

// Ports of this file only.
const RANGE = "19960-19969";
const WAIT = ["--wait", "15"];

let sb: Sandbox;
let paths: Paths;
const figures = { handEditsWithRawBytes: 0, changesThatKeptThem: 0, generationsChecked: 0, refusedBeforeStart: 0, managerRefused: 0, envWarned: 0, doctorReported: 0, argvRefused: 0 };

before(async () => {
  sb = await initialisedSandbox(RANGE, ["u1"]);
  paths = userPaths(sb);
});
after(async () => {
  console.log(`# reliability figures (non-UTF-8 values): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const RAW = Buffer.from([0x78, 0xff, 0xfe, 0x79]); // "x", two bytes that are not UTF-8, "y"
const quoted = (key: string, value: Buffer) => Buffer.concat([Buffer.from(`${key}="`), value, Buffer.from('"')]);

async function unitProps(): Promise<Record<string, string>> {
  return showUnit(sb, "agent-gateway@u1.service", ["ActiveState", "Result", "MainPID", "NRestarts"]);
}

test("a hand edit with bytes that are not UTF-8 survives set of another key, in the .env and in both generations", async () => {
  const file = envFile(paths, "u1");
  const hand = Buffer.concat([await fs.readFile(file), Buffer.from("BIN="), RAW, Buffer.from("\n")]);
  await fs.writeFile(file, hand);
  figures.handEditsWithRawBytes++;
  const r = await sb.profiles(["set", "u1", "OTHER=1"]);
  assert.equal(r.code, 0, r.stderr);
  figures.changesThatKeptThem++;
  const now = await fs.readFile(file);
  assert.ok(now.includes(quoted("BIN", RAW)), `the bytes of BIN changed: ${now.toString("hex")}`);
  assert.ok(!now.includes(Buffer.from("\uFFFD")), "U+FFFD in the .env");
  const h = await history(paths, "u1");
  const [handGen, setGen] = h.generations.slice(-2);
  assert.equal(handGen!.reason, "found on disk (edited by hand)");
  assert.equal(setGen!.reason, "set OTHER");
  assert.deepEqual(await fs.readFile(generationFile(paths, "u1", handGen!.number)), hand, "the hand edit's generation holds its exact bytes");
  assert.equal(handGen!.sha256, sha(hand));
  assert.deepEqual(await fs.readFile(generationFile(paths, "u1", setGen!.number)), now);
  assert.equal(setGen!.sha256, sha(now));
  assert.equal(h.current, setGen!.number);
  figures.generationsChecked += 2;
  for (const c of await checkEnvFiles(paths)) assert.deepEqual(c.problems, [], c.name);
  const d = await sb.profiles(["diff", "u1"]);
  assert.equal(d.code, 0, d.stderr);
  assert.doesNotMatch(d.stdout, /BIN/, "diff saw BIN change");
});

test("env warns and shows the bytes escaped; doctor reports the file", async () => {
  const file = envFile(paths, "u1");
  const r = await sb.profiles(["env", "u1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^BIN="x\\xff\\xfey"$/m);
  assert.match(r.stdout, /^# WARNING line \d+: the value of BIN is not valid UTF-8 \(byte \\xff\): systemd refuses the whole file/m);
  assert.match(r.stderr, /warning: .*the value of BIN is not valid UTF-8/);
  const j = await sb.profiles(["env", "u1", "--json"]);
  assert.deepEqual((JSON.parse(j.stdout) as { refused: { key: string }[] }).refused.map((x) => x.key), ["BIN"]);
  figures.envWarned++;
  const doc = await sb.profiles(["doctor", "--json"]);
  assert.equal(doc.code, 14, doc.stderr);
  const report = JSON.parse(doc.stdout) as { checks: { id: string; status: string; problems: { message: string; fix: string }[] }[] };
  const check = report.checks.find((c) => c.id === "env-files")!;
  assert.equal(check.status, "problem");
  assert.match(check.problems[0]!.message, new RegExp(`^u1: ${file.replace(/[.]/g, "\\.")} line \\d+: the value of BIN is not valid UTF-8`));
  assert.equal(check.problems[0]!.fix, "profiles set u1 BIN=NEW_VALUE");
  figures.doctorReported++;
});

test("start, restart and roll refuse it (exit 12, file and key named, nothing started); the manager itself refuses the file", async () => {
  const file = envFile(paths, "u1");
  assert.equal((await sb.profiles(["stop", "u1"])).code, 0);
  for (const args of [["start", "u1", ...WAIT], ["restart", "u1", ...WAIT], ["roll", "u1", "--min-healthy-time", "0"], ["set", "u1", "OTHER=2", "--restart", ...WAIT]]) {
    const before = await fs.readFile(file);
    const r = await sb.profiles(args, { timeoutMs: 60_000 });
    assert.equal(r.code, 12, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`${file}: the value of BIN is not valid UTF-8`), r.stderr);
    assert.equal((await unitProps()).ActiveState, "inactive", `${args[0]} started the unit`);
    assert.deepEqual(await fs.readFile(file), before, `${args[0]} wrote the .env`);
    figures.refusedBeforeStart++;
  }
  // What the refusal spares the operator: asked directly, systemd 252 fails the start on this file.
  const direct = await sb.exec("systemctl", ["--user", "start", "agent-gateway@u1.service"]);
  assert.notEqual(direct.code, 0, "systemd started a unit whose EnvironmentFile= is not UTF-8");
  const props = await unitProps();
  assert.equal(props.Result, "resources", JSON.stringify(props));
  // failed, or activating: the template's Restart= tries again, and fails the same way.
  assert.notEqual(props.ActiveState, "active", JSON.stringify(props));
  figures.managerRefused++;
  assert.equal((await sb.exec("systemctl", ["--user", "stop", "agent-gateway@u1.service"])).code, 0);
  // Fixed through profiles, it starts again.
  assert.equal((await sb.profiles(["set", "u1", "BIN=fixed"])).code, 0);
  const up = await sb.profiles(["start", "u1", ...WAIT], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const port = Number(/^PORT="(\d+)"$/m.exec(await fs.readFile(file, "utf8"))?.[1]);
  assert.equal(await healthStatus(port), 200);
  const doc = JSON.parse((await sb.profiles(["doctor", "--json"])).stdout) as { checks: { id: string; status: string }[] };
  assert.equal(doc.checks.find((c) => c.id === "env-files")!.status, "ok");
});

test("a value that is not UTF-8 on the command line is refused (exit 2), naming the key, not the value", async (t) => {
  const file = envFile(paths, "u1");
  const cli = path.join(sb.appDir, "dist", "src", "cli.cjs");
  for (const value of ["$'\\xff'", "$'a\\xc3'", "$'\\xef\\xbf\\xbe'"]) {
    const before = await fs.readFile(file);
    const r = await sb.exec("bash", ["-c", `exec node ${cli} set u1 SECRET_TOKEN=${value}`]);
    assert.equal(r.code, 2, `${value}: ${r.stderr}`);
    assert.match(r.stderr, /the value of SECRET_TOKEN (is not valid UTF-8|holds U\+FFFE, a Unicode noncharacter)/);
    assert.deepEqual(await fs.readFile(file), before);
    figures.argvRefused++;
  }
  t.diagnostic(`non-UTF-8 faults: ${JSON.stringify(figures)}`);
});

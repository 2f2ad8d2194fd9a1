import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type ExecResult, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only; other integration files run beside it with their own ranges.
const RANGE = "18740-18779";
const NAMES = ["p1", "p2", "p3", "p4", "p5"];
// Short gates keep the file quick; the defaults (5 s healthy within 30 s) are for people.
const FAST = ["--min-healthy-time", "0.5", "--healthy-deadline", "4"];

let sb: Sandbox;
let stateDir: string;
let configDir: string;

interface ProfileReport { name: string; outcome: string; failure: string | null; reason: string | null; revertedTo: number | null; pidBefore: number | null; pidAfter: number | null; startedAt: string | null; endedAt: string | null; attempts: number }
interface Summary {
  outcome: string;
  previous: { stoppedBy: string | null; states: Record<string, string> } | null;
  rolls: { resumed: boolean; outcome: string; plan: { kind: string; names: string[] }[]; profiles: ProfileReport[] }[];
}
interface Row { name: string; port: number; pid: number | null; activeState: string }

const profiles = (args: string[], timeoutMs = 90_000) => sb.profiles(args, { timeoutMs });
const json = <T>(r: ExecResult): T => JSON.parse(r.stdout) as T;
const list = async () => new Map(json<Row[]>(await profiles(["list", "--json"])).map((r) => [r.name, r]));
const outcomes = (s: Summary, i = 0) => Object.fromEntries(s.rolls[i]!.profiles.map((p) => [p.name, p.outcome]));
const profile = (s: Summary, name: string, i = 0) => s.rolls[i]!.profiles.find((p) => p.name === name)!;

async function health(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
  return res.status;
}

async function allHealthy(): Promise<void> {
  for (const [name, row] of await list()) {
    assert.equal(row.activeState, "active", name);
    assert.equal(await health(row.port), 200, name);
  }
}

/** Poll the roll record (as root) until `ok` holds for it, within a deadline. */
async function waitForRecord(ok: (r: { pid: number; profiles: Record<string, { state: string }> }) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await fs.readFile(path.join(stateDir, "roll.json"), "utf8").catch(() => null);
    const rec = text ? (JSON.parse(text) as { pid: number; finished: unknown; profiles: Record<string, { state: string }> }) : null;
    if (rec && !rec.finished && ok(rec)) return rec;
    if (Date.now() > deadline) throw new Error(`roll record never got there; last: ${text}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const envs = async () => Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await fs.readFile(path.join(configDir, "profiles", n, ".env"), "utf8")])));

before(async () => {
  sb = await startSandbox();
  stateDir = path.join(sb.home, ".local/state/agent-profiles");
  configDir = path.join(sb.home, ".config/agent-profiles");
  const gateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--exec", `${process.execPath} ${gateway}`]);
  assert.equal(init.code, 0, init.stderr);
  for (const n of NAMES) {
    const r = await profiles(["add", n]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await sb?.stop();
});

test("roll of five healthy profiles: canary, then two at a time; all rolled in that order, every PID new", async () => {
  const before = await list();
  const r = await profiles(["roll", "--canary", "1", "--max-parallel", "2", ...FAST, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const s = json<Summary>(r);
  assert.deepEqual(s.rolls[0]!.plan, [{ kind: "canary", names: ["p1"] }, { kind: "batch", names: ["p2", "p3"] }, { kind: "batch", names: ["p4", "p5"] }]);
  assert.deepEqual(outcomes(s), Object.fromEntries(NAMES.map((n) => [n, "rolled"])));
  const at = (n: string, k: "startedAt" | "endedAt") => Date.parse(profile(s, n)[k]!);
  assert.ok(at("p2", "startedAt") >= at("p1", "endedAt"), "the canary settles before the next batch");
  assert.ok(at("p2", "startedAt") < at("p3", "endedAt") && at("p3", "startedAt") < at("p2", "endedAt"), "p2 and p3 roll together");
  assert.ok(at("p4", "startedAt") >= Math.max(at("p2", "endedAt"), at("p3", "endedAt")));
  const now = await list();
  for (const n of NAMES) {
    assert.equal(profile(s, n).pidBefore, before.get(n)!.pid, n);
    assert.equal(profile(s, n).pidAfter, now.get(n)!.pid, n);
    assert.notEqual(now.get(n)!.pid, before.get(n)!.pid, n);
  }
  await allHealthy();
});

/** Break one profile with `profiles set`, roll, and check the revert, the halt and the untouched rest. */
async function breakAndRoll(name: string, pair: string, args: string[], expect: Record<string, string>): Promise<Summary> {
  const set = await profiles(["set", name, pair]);
  assert.equal(set.code, 0, set.stderr);
  const before = await list();
  const r = await profiles(["roll", ...FAST, ...args, "--json"]);
  assert.equal(r.code, 13, r.stderr);
  const s = json<Summary>(r);
  assert.equal(s.outcome, "halted");
  assert.deepEqual(outcomes(s), expect);
  const now = await list();
  for (const [n, o] of Object.entries(expect)) {
    if (o === "untouched") assert.equal(now.get(n)!.pid, before.get(n)!.pid, `${n} was restarted`);
    else assert.notEqual(now.get(n)!.pid, before.get(n)!.pid, n);
  }
  assert.equal(profile(s, name).revertedTo !== null, true);
  assert.doesNotMatch(await fs.readFile(path.join(configDir, "profiles", name, ".env"), "utf8"), new RegExp(pair.split("=")[0]!));
  await allHealthy();
  return s;
}

test("(a) a gateway that exits at start (HOST=0.0.0.0 without API_KEY) is reverted; the rest untouched", async () => {
  const s = await breakAndRoll("p2", "HOST=0.0.0.0", [], { p1: "rolled", p2: "reverted", p3: "untouched", p4: "untouched", p5: "untouched" });
  assert.equal(profile(s, "p2").failure, "crashed");
  assert.match(profile(s, "p2").reason!, /exited with status 78/);
  const h = await profiles(["history", "p2", "--json"]);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /roll: revert to 1 \(crashed\)/);
});

test("(b) a gateway that never answers health in time is reverted; the summary names it", async () => {
  const set = await profiles(["set", "p3", "NEVER_LISTEN=1"]);
  assert.equal(set.code, 0, set.stderr);
  const before = await list();
  const r = await profiles(["roll", "--min-healthy-time", "0.5", "--healthy-deadline", "3"]);
  assert.equal(r.code, 13, r.stderr);
  assert.match(r.stdout, /roll HALTED: 1 reverted, 0 failed, 2 untouched/);
  assert.match(r.stdout, /reverted +p3: health never answered within 3 s \(refused\); back on known-good generation \d+/);
  assert.match(r.stdout, /untouched +p4\n +untouched +p5/);
  assert.match(r.stdout, /next: .*profiles roll p3 p4 p5/);
  // Progress went to stderr as plain lines (no terminal here).
  assert.match(r.stderr, /p3: FAILED its gate/);
  const now = await list();
  for (const n of ["p4", "p5"]) assert.equal(now.get(n)!.pid, before.get(n)!.pid, n);
  await allHealthy();
});

test("(c) a gateway whose health answers 500 is reverted; the other profile of its batch finishes", async () => {
  const s = await breakAndRoll("p4", "HEALTH_STATUS=500", ["--max-parallel", "2"], { p1: "rolled", p2: "rolled", p3: "rolled", p4: "reverted", p5: "untouched" });
  assert.equal(profile(s, "p4").failure, "health-status");
  assert.match(profile(s, "p4").reason!, /health returned 500/);
});

test("SIGTERM stops a roll once its batch settles (exit 13); the next roll finishes it", async () => {
  const running = profiles(["roll", "--min-healthy-time", "1", "--healthy-deadline", "5", "--json"]);
  const rec = await waitForRecord((r) => r.profiles.p2?.state === "rolling");
  process.kill(rec.pid, "SIGTERM");
  const r = await running;
  assert.equal(r.code, 13, r.stderr);
  assert.match(r.stderr, /SIGTERM: stopping once the current batch has settled/, "said under --json too");
  const s = json<Summary>(r);
  assert.equal(s.outcome, "interrupted");
  assert.deepEqual(outcomes(s), { p1: "rolled", p2: "rolled", p3: "untouched", p4: "untouched", p5: "untouched" });
  await allHealthy();
  const again = await profiles(["roll", "--json"]);
  assert.equal(again.code, 0, again.stderr);
  const t = json<Summary>(again);
  assert.equal(t.previous?.stoppedBy, "SIGTERM");
  assert.equal(t.rolls[0]!.resumed, true);
  assert.deepEqual(outcomes(t), Object.fromEntries(NAMES.map((n) => [n, "rolled"])));
  assert.equal(profile(t, "p2").attempts, 1, "what the stopped roll finished is not restarted again");
});

test("a roll killed with SIGKILL mid-way: nothing lost, the next roll reports and finishes it, all healthy", async () => {
  const files = await envs();
  const running = profiles(["roll", "--min-healthy-time", "1", "--healthy-deadline", "5", "--json"]);
  const rec = await waitForRecord((r) => r.profiles.p2?.state === "rolled" && r.profiles.p3?.state === "rolling");
  process.kill(rec.pid, "SIGKILL");
  assert.equal((await running).code, 137);
  assert.deepEqual(await envs(), files, "no .env changed");
  const mid = await list();
  const again = await profiles(["roll", "--json"]);
  assert.equal(again.code, 0, again.stderr);
  const s = json<Summary>(again);
  assert.equal(s.previous?.stoppedBy, null);
  assert.deepEqual(s.previous?.states, { p1: "rolled", p2: "rolled", p3: "rolling", p4: "pending", p5: "pending" });
  assert.deepEqual(outcomes(s), Object.fromEntries(NAMES.map((n) => [n, "rolled"])));
  assert.equal(profile(s, "p3").attempts, 2, "p3 was restarted and gated again");
  const now = await list();
  for (const n of ["p1", "p2"]) assert.equal(now.get(n)!.pid, mid.get(n)!.pid, `${n} was rolled again`);
  assert.deepEqual(await envs(), files);
  await allHealthy();
  const h = await profiles(["history", "p3", "--json"]);
  assert.equal(h.code, 0, h.stderr);
});

test("two rolls at once: the second is refused with exit 9, naming the first", async () => {
  const first = profiles(["roll", "--min-healthy-time", "1", "--healthy-deadline", "5"]);
  const rec = await waitForRecord((r) => r.profiles.p1?.state === "rolling");
  const second = await profiles(["roll", "p5"]);
  assert.equal(second.code, 9, second.stderr);
  assert.match(second.stderr, new RegExp(`another roll is running .*process ${rec.pid} \\(profiles roll p1 p2 p3 p4 p5\\)`));
  assert.match(second.stderr, /next: wait for it to end/);
  assert.equal(second.stdout, "");
  const done = await first;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /roll completed: 5 rolled/);
});

test("--dry-run and bad input change nothing in the config or state directories", async () => {
  const dirs = async () => ({ ...(await snapshot(configDir)), ...(await snapshot(stateDir)) });
  const before = await dirs();
  const pids = await list();
  const text = await profiles(["roll", "--dry-run", "--canary", "2", "--max-parallel", "2"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /batches \[p1 p2\] \[p3 p4\] \[p5\]/);
  assert.match(text.stdout, /dry run: nothing was restarted or written/);
  const j = await profiles(["roll", "p3", "p1", "--dry-run", "--json"]);
  assert.deepEqual(json<Summary>(j).rolls[0]!.plan, [{ kind: "batch", names: ["p3"] }, { kind: "batch", names: ["p1"] }]);
  for (const [args, code] of [[["roll", "nosuch"], 3], [["roll", "--max-parallel", "0"], 2], [["roll", "P1"], 2], [["roll", "--healthy-deadline", "x"], 2]] as const) {
    const r = await profiles([...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^profiles: /);
  }
  assert.deepEqual(await dirs(), before);
  const now = await list();
  for (const n of NAMES) assert.equal(now.get(n)!.pid, pids.get(n)!.pid);
});

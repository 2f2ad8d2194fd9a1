import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { watch } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { type Sandbox, spawnCli, userPaths } from "../helpers/sandbox.js";
import { waitUntilNode } from "../helpers/proc-readings.js";
import { bootId, startTicks } from "../../src/processes/identity.js";
import { checkEnvFiles, healthStatus, initialisedSandbox, pollUntil } from "./util.js";

// Ports of this file only.
const RANGE = "19850-19899";
const NAMES = ["l1", "l2"];
const ROUNDS = 2;
// A lock broken at once waits for no poll and no grace period: well under a second even on a loaded machine.
const AT_ONCE_MS = 500;
const ROLL_FLAGS = ["--min-healthy-time", "0", "--healthy-deadline", "20"];
const ZERO_BOOT = "00000000-0000-0000-0000-000000000000";

let sb: Sandbox;
let other: ChildProcess & { pid: number };
let added = 0;
const figures = {
  faultsInjected: {} as Record<string, number>,
  commandRuns: {} as Record<string, number>,
  lockWaitMs: { max: 0, samples: 0 },
  commandMs: {} as Record<string, number>,
  liveHolderExit: -1,
};

/** A stale lock of one kind, as the file the CLI finds (and how old it is): a live unrelated PID, a reused PID, garbage. */
type Fault = (name: string) => Promise<{ text: string; ageS?: number }>;

/** A live process's identity as a lock records it (its start ticks and this boot's id). */
function stat1(pid: number): { ticks: number; boot: string } {
  const ticks = startTicks(pid);
  const boot = bootId();
  assert.ok(ticks !== null && boot !== null, `/proc/${pid}/stat or boot_id unreadable`);
  return { ticks, boot };
}

const lockJson = (pid: number, ticks: number, boot: string, name: string) => ({
  text: JSON.stringify({ pid, command: `profiles (left by a killed run, ${name})`, since: "2020-01-01T00:00:00.000Z", startTicks: ticks, bootId: boot }),
});

const FAULTS: Record<string, Fault> = {
  // PID 1 runs, but it never took a lock: its start time is not the recorded one.
  "pid 1": async (name) => {
    const { ticks, boot } = stat1(1);
    return lockJson(1, ticks + 1, boot, name);
  },
  // A PID a later process of the same user got: right PID, other start time...
  "reused pid, other start time": async (name) => {
    const { ticks, boot } = stat1(other.pid);
    return lockJson(other.pid, ticks - 1, boot, name);
  },
  // ... or the right start time, but from another boot.
  "reused pid, other boot": async (name) => {
    const { ticks } = stat1(other.pid);
    return lockJson(other.pid, ticks, ZERO_BOOT, name);
  },
  // Torn bytes a minute old: no writer is at work on it any more.
  "garbled, 60 s old": async () => ({ text: '\u0000{"pid": 1', ageS: 60 }),
};

function locksDir(): string {
  return userPaths(sb).locksDir;
}

/** Writes stale lock files `names` (owned by the user, as the CLI leaves them) of kind `kind`. */
async function plant(kind: string, names: string[]): Promise<void> {
  await fs.mkdir(locksDir(), { recursive: true, mode: 0o700 });
  await fs.chown(locksDir(), sb.uid, sb.gid);
  for (const name of names) {
    const file = path.join(locksDir(), `${name}.lock`);
    const { text, ageS } = await FAULTS[kind]!(name);
    await fs.writeFile(file, text, { mode: 0o600 });
    await fs.chown(file, sb.uid, sb.gid);
    if (ageS) await fs.utimes(file, new Date(Date.now() - ageS * 1000), new Date(Date.now() - ageS * 1000));
    figures.faultsInjected[kind] = (figures.faultsInjected[kind] ?? 0) + 1;
  }
}

/**
 * Runs the CLI with `args` while inotify watches the locks dir, and returns, for each of `names`, how
 * long its first attempt at the lock (the temp file `createWhole` writes) came before the stale file went.
 */
async function runTimed(args: string[], names: string[]): Promise<{ code: number; stderr: string; waits: Record<string, number>; ms: number }> {
  const events: { t: number; f: string }[] = [];
  const watcher = watch(locksDir(), (_event, f) => events.push({ t: performance.now(), f: String(f) }));
  const t0 = Date.now();
  try {
    const r = await sb.profiles(args, { timeoutMs: 120_000 });
    const waits: Record<string, number> = {};
    for (const name of names) {
      const attempt = events.find((e) => new RegExp(`^${name}\\.lock\\.\\d+\\.[0-9a-f]{8}\\.tmp$`).test(e.f));
      const gone = attempt && events.find((e) => e.t >= attempt.t && e.f === `${name}.lock`);
      assert.ok(attempt && gone, `${args.join(" ")}: no attempt at ${name}.lock, or it never went: ${JSON.stringify(events.map((e) => e.f))}`);
      waits[name] = Math.round(gone.t - attempt.t);
    }
    return { code: r.code, stderr: r.stderr, waits, ms: Date.now() - t0 };
  } finally {
    watcher.close();
  }
}

function assertAtOnce(label: string, r: { code: number; stderr: string; waits: Record<string, number>; ms: number }): void {
  assert.equal(r.code, 0, `${label}: exit ${r.code}\n${r.stderr}`);
  for (const [name, ms] of Object.entries(r.waits)) {
    figures.lockWaitMs.max = Math.max(figures.lockWaitMs.max, ms);
    figures.lockWaitMs.samples++;
    assert.ok(ms < AT_ONCE_MS, `${label}: ${name}.lock was broken after ${ms} ms, not at once`);
  }
  const verb = label.split(" ")[0]!;
  figures.commandRuns[verb] = (figures.commandRuns[verb] ?? 0) + 1;
  figures.commandMs[verb] = Math.max(figures.commandMs[verb] ?? 0, r.ms);
}

/** Every lock was released and no claim or temp file was left behind. */
async function assertLocksTidy(label: string): Promise<void> {
  assert.deepEqual(await fs.readdir(locksDir()), [], `${label}: left in ${locksDir()}`);
}

async function assertEnvFiles(label: string): Promise<void> {
  for (const c of await checkEnvFiles(userPaths(sb))) assert.deepEqual(c.problems, [], `${label}: ${c.name}`);
}

async function envOf(name: string): Promise<string> {
  return fs.readFile(path.join(userPaths(sb).profilesDir, name, ".env"), "utf8");
}

before(async () => {
  sb = await initialisedSandbox(RANGE, NAMES);
  // A process of the user that holds no lock: its PID stands for one the kernel gave again.
  const child = spawn("setpriv", [`--reuid=${sb.uid}`, `--regid=${sb.gid}`, "--init-groups", "sleep", "3600"], { stdio: "ignore" });
  await new Promise((r) => child.once("spawn", r));
  other = child as ChildProcess & { pid: number };
});
after(async () => {
  console.log(`# reliability figures (stale locks): ${JSON.stringify(figures)}`);
  other?.kill("SIGKILL");
  await sb?.stop();
});

for (const kind of Object.keys(FAULTS)) {
  test(`a stale lock (${kind}) before set, add and roll: each goes through at once, .env files right`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const value = `${kind.replace(/\W+/g, "_")}_${round}`;
      await plant(kind, ["profile-l1"]);
      const set = await runTimed(["set", "l1", `RL_LOCK=${value}`], ["profile-l1"]);
      assertAtOnce(`set (${kind})`, set);
      assert.match(await envOf("l1"), new RegExp(`^RL_LOCK="${value}"$`, "m"));
      await assertLocksTidy(`set (${kind})`);

      const name = `a${++added}`;
      await plant(kind, ["ports"]);
      const add = await runTimed(["add", name, "--wait", "30"], ["ports"]);
      assertAtOnce(`add (${kind})`, add);
      const port = Number(/^PORT="(\d+)"$/m.exec(await envOf(name))?.[1]);
      assert.equal(await healthStatus(port), 200, `${name} on ${port}`);
      await assertLocksTidy(`add (${kind})`);

      await plant(kind, ["roll", "profile-l1", "profile-l2"]);
      const roll = await runTimed(["roll", ...NAMES, ...ROLL_FLAGS], ["roll", "profile-l1", "profile-l2"]);
      assertAtOnce(`roll (${kind})`, roll);
      await assertLocksTidy(`roll (${kind})`);
      await assertEnvFiles(`round ${round} (${kind})`);
    }
  });
}

test("a lock a running roll holds: a second roll exits 9 at once, naming its PID, command and lock file", async () => {
  const first = spawnCli(sb, ["roll", ...NAMES, "--min-healthy-time", "3", "--healthy-deadline", "20"]);
  try {
    assert.ok(await waitUntilNode(first.pid), "the first roll did not start");
    const file = path.join(locksDir(), "roll.lock");
    const holds = await pollUntil(async () => (await fs.readFile(file, "utf8").catch(() => "")).includes(`"pid":${first.pid},`), 30_000, 20);
    assert.ok(holds, "the first roll never took its lock");
    const t0 = Date.now();
    const second = await sb.profiles(["roll", ...NAMES]);
    figures.liveHolderExit = second.code;
    figures.commandMs["roll (busy)"] = Date.now() - t0;
    assert.equal(second.code, 9, second.stderr);
    assert.ok(second.stderr.includes(`process ${first.pid} (profiles roll ${NAMES.join(" ")})`), second.stderr);
    assert.ok(second.stderr.includes(file), second.stderr);
    assert.match(second.stderr, new RegExp(`kill -INT ${first.pid}`));
  } finally {
    const r = await first.done;
    assert.equal(r.code, 0, r.stderr);
  }
  await assertLocksTidy("after the busy roll");
  await assertEnvFiles("after the busy roll");
});

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { hasStopped } from "../helpers/proc-readings.js";
import { type Sandbox, spawnCli, userPaths } from "../helpers/sandbox.js";
import { healthStatus, initialisedSandbox, pollUntil } from "./util.js";

// Ports of this file only.
const RANGE = "19750-19799";
const NAMES = ["m1", "m2", "m3", "m4"];

let sb: Sandbox;
const figures = { rollExit: -1, stoppedAtStates: {} as Record<string, string>, resumeExit: -1, managerRestartMs: 0, restartWhileStoppingExit: -1 };

before(async () => {
  sb = await initialisedSandbox(RANGE, NAMES);
});
after(async () => {
  console.log(`# reliability figures (manager stopped mid-roll): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

interface Record_ { finished: unknown; profiles: Record<string, { state: string }> }

async function readRecord(): Promise<Record_ | null> {
  const text = await fs.readFile(path.join(userPaths(sb).stateDir, "roll.json"), "utf8").catch(() => null);
  if (text === null) return null;
  try {
    return JSON.parse(text) as Record_;
  } catch {
    return null;
  }
}

test("the user manager stopped mid-roll: exit 10 naming the manager, the record left; with it back, roll completes", async () => {
  // Batch 1 with a 2 s gate: the roll is surely mid-way when the manager goes.
  const roll = spawnCli(sb, ["roll", "--max-parallel", "1", "--min-healthy-time", "2", "--healthy-deadline", "20"]);
  const midRoll = await pollUntil(async () => {
    const r = await readRecord();
    return r !== null && r.finished === null && Object.values(r.profiles).some((p) => p.state === "rolled");
  }, 30_000, 20);
  assert.ok(midRoll, "the roll never got past its first profile");

  const old = sb.managerPid;
  process.kill(old, "SIGTERM");
  const r = await roll.done;
  figures.rollExit = r.code;
  const dead = await pollUntil(async () => hasStopped(old), 20_000);
  assert.ok(dead, "the manager did not exit on SIGTERM");

  assert.equal(r.code, 10, `roll exit ${r.code}, want 10 (manager unreachable)\n${r.stderr}`);
  assert.match(r.stderr, /systemd user manager/i, r.stderr);

  const record = await readRecord();
  assert.ok(record, "roll.json is gone");
  assert.equal(record.finished, null, "the interrupted roll must stay unfinished, to be resumed");
  figures.stoppedAtStates = Object.fromEntries(Object.entries(record.profiles).map(([n, p]) => [n, p.state]));
  assert.ok(Object.values(record.profiles).some((p) => p.state !== "rolled"), `nothing left to do: ${JSON.stringify(figures.stoppedAtStates)}`);

  // While the manager is down, a new roll says why too, and leaves the record unfinished with the same states
  // (it may note its attempt to resume).
  const down = await sb.profiles(["roll", "--min-healthy-time", "0"], { timeoutMs: 60_000 });
  assert.equal(down.code, 10, down.stderr);
  assert.match(down.stderr, /systemd user manager/i);
  const still = await readRecord();
  assert.equal(still?.finished, null);
  assert.deepEqual(Object.fromEntries(Object.entries(still!.profiles).map(([n, p]) => [n, p.state])), figures.stoppedAtStates);

  const t0 = Date.now();
  await sb.restartManager();
  figures.managerRestartMs = Date.now() - t0;
  assert.notEqual(sb.managerPid, old);

  const resumed = await sb.profiles(["roll", "--min-healthy-time", "0", "--json"], { timeoutMs: 120_000 });
  figures.resumeExit = resumed.code;
  assert.equal(resumed.code, 0, `${resumed.stderr}\n${resumed.stdout}`);
  const summary = JSON.parse(resumed.stdout) as { rolls: { resumed: boolean; outcome: string }[] };
  assert.equal(summary.rolls[0]?.resumed, true, "the interrupted roll was not resumed");
  const after = await readRecord();
  assert.ok(after?.finished, "roll.json not finished after the resumed roll");

  const rows = JSON.parse((await sb.profiles(["list", "--json"])).stdout) as { name: string; port: number; activeState: string }[];
  assert.deepEqual(rows.map((x) => x.name), NAMES);
  for (const row of rows) {
    assert.equal(row.activeState, "active", row.name);
    assert.equal(await healthStatus(row.port), 200, row.name);
  }
});

test("a restart while the manager is shutting down: exit 10 naming the manager, not a failed profile", async () => {
  // A unit that ignores SIGTERM keeps the manager in its "stopping" state for its TimeoutStopSec; ordered
  // after the user bus, it holds the bus up meanwhile (units stop in reverse order), so requests still arrive.
  const hold = await sb.exec("systemd-run", ["--user", "--unit=ap-holdup", "-p", "After=dbus.service", "-p", "TimeoutStopSec=60", "/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"]);
  assert.equal(hold.code, 0, hold.stderr);
  // Killed by the test once it has its answer, so that the manager then exits at once.
  const holdPid = Number((await sb.exec("systemctl", ["--user", "show", "-p", "MainPID", "--value", "ap-holdup"])).stdout.trim());
  assert.ok(holdPid > 0, "ap-holdup has no main PID");
  const old = sb.managerPid;
  process.kill(old, "SIGTERM");
  let seen = "";
  const stopping = await pollUntil(async () => {
    const r = await sb.exec("busctl", ["--user", "get-property", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "SystemState"]);
    seen = `${r.code} ${r.stdout.trim()} ${r.stderr.trim()}`;
    return r.stdout.trim() === 's "stopping"';
  }, 30_000, 10);
  let r: { code: number; stderr: string } | null = null;
  try {
    assert.ok(stopping, `the manager never said it was stopping; last answer: ${seen}`);
    r = await sb.profiles(["restart", "m1"], { timeoutMs: 30_000 });
  } finally {
    process.kill(holdPid, "SIGKILL");
  }
  figures.restartWhileStoppingExit = r.code;
  assert.equal(r.code, 10, `restart exit ${r.code}, want 10\n${r.stderr}`);
  assert.match(r.stderr, /systemd user manager[\s\S]*shutting down/i);

  const dead = await pollUntil(async () => hasStopped(old), 20_000);
  assert.ok(dead, "the manager did not exit on SIGTERM");
});

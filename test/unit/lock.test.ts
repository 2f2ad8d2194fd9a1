import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { BusyError } from "../../src/errors.js";
import { bootId, isRunning, selfIdentity, startTicks } from "../../src/processes/identity.js";
import { acquireLock } from "../../src/store/lock.js";
import { seeLock, UNREADABLE_GRACE_MS } from "../../src/store/lock-file.js";
import { lockWorkersTakeTurns } from "../helpers/lock-workers.js";
import { inTempDir } from "../helpers/fakes.js";

/** A process that idles until killed. */
async function idler(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e6)"], { stdio: "ignore" });
  await new Promise((r) => child.once("spawn", r));
  return child as ChildProcess & { pid: number };
}

function lockText(pid: number, ticks: number | null, boot: string | null, command = "profiles set x A=1"): string {
  return JSON.stringify({ pid, command, since: "2020-01-01T00:00:00.000Z", startTicks: ticks, bootId: boot });
}

/** Takes `name` with no wait; returns how long it took. */
async function takeAt(dir: string, name: string): Promise<number> {
  const t0 = Date.now();
  const lock = await acquireLock(dir, name, "test", 0);
  const ms = Date.now() - t0;
  assert.equal((await seeLock(path.join(dir, `${name}.lock`)))?.owner?.pid, process.pid);
  await lock.release();
  return ms;
}

test("identity: this process runs; the same PID with another start time or boot does not", () => {
  const me = selfIdentity();
  assert.equal(me.pid, process.pid);
  assert.ok(Number.isInteger(me.startTicks), "no start time read from /proc");
  assert.match(me.bootId ?? "", /^[0-9a-f-]{36}$/);
  assert.equal(isRunning(me), true);
  assert.equal(isRunning({ ...me, startTicks: me.startTicks! + 1 }), false);
  assert.equal(isRunning({ ...me, bootId: "00000000-0000-0000-0000-000000000000" }), false);
  assert.equal(isRunning({ pid: 1, startTicks: startTicks(1)! + 7, bootId: bootId() }), false);
  assert.equal(isRunning({ pid: 4_000_000, startTicks: 5, bootId: bootId() }), false);
  // A record of an older version, which has the PID alone.
  assert.equal(isRunning({ pid: process.pid }), true);
});

test("identity: a zombie (ended, not yet collected by its parent) no longer runs", async () => {
  // sh starts a child that waits for a line on fd 3, then becomes `sleep`, which never collects it. The child
  // ends only once told, after sh is sleep: a child that ended sooner could be collected by sh itself.
  const sh = spawn("sh", ["-c", "read x <&3 & echo $!; exec sleep 30 3<&-"], { stdio: ["ignore", "pipe", "ignore", "pipe"] });
  try {
    const pid = Number(await new Promise<string>((r) => sh.stdout!.once("data", (d: Buffer) => r(d.toString()))));
    const ticks = startTicks(pid);
    const execed = Date.now() + 5000;
    while (!(await fs.readFile(`/proc/${sh.pid}/comm`, "utf8")).startsWith("sleep") && Date.now() < execed) await new Promise((r) => setTimeout(r, 10));
    (sh.stdio[3] as NodeJS.WritableStream).end("go\n");
    const deadline = Date.now() + 5000;
    while (!(await fs.readFile(`/proc/${pid}/stat`, "utf8")).includes(") Z ") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(isRunning({ pid, startTicks: ticks, bootId: bootId() }), false);
  } finally {
    sh.kill("SIGKILL");
  }
});

test("identity: the start time is field 22 even when the command holds spaces and parentheses", async () => {
  await inTempDir("lock", async (dir) => {
    await fs.mkdir(path.join(dir, "42"));
    const rest = "S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
    await fs.writeFile(path.join(dir, "42", "stat"), `42 (a) b (c)) ${rest}\n`);
    assert.equal(startTicks(42, dir), 987654);
    assert.equal(startTicks(43, dir), null);
  });
});

test("lock: one naming a live unrelated PID (PID 1) or a dead one is broken at once", async () => {
  await inTempDir("lock", async (dir) => {
    await fs.writeFile(path.join(dir, "roll.lock"), lockText(1, startTicks(1)! + 1, bootId()));
    assert.ok((await takeAt(dir, "roll")) < 500);
    await fs.writeFile(path.join(dir, "roll.lock"), lockText(4_000_000, 1, bootId()));
    assert.ok((await takeAt(dir, "roll")) < 500);
    assert.deepEqual(await fs.readdir(dir), []);
  });
});

test("lock: a reused PID (other start time, or other boot) is broken at once; the very process holds it", async () => {
  const child = await idler();
  try {
    await inTempDir("lock", async (dir) => {
      const ticks = startTicks(child.pid)!;
      const file = path.join(dir, "profile-x.lock");
      await fs.writeFile(file, lockText(child.pid, ticks - 1, bootId()));
      assert.ok((await takeAt(dir, "profile-x")) < 500);
      await fs.writeFile(file, lockText(child.pid, ticks, "00000000-0000-0000-0000-000000000000"));
      assert.ok((await takeAt(dir, "profile-x")) < 500);
      await fs.writeFile(file, lockText(child.pid, ticks, bootId()));
      await assert.rejects(acquireLock(dir, "profile-x", "test", 0), (err: unknown) => {
        assert.ok(err instanceof BusyError);
        assert.match(err.message, new RegExp(`process ${child.pid} \\(profiles set x A=1\\)`));
        assert.ok(err.message.includes(file), err.message);
        assert.match(err.hint ?? "", /wait for `profiles set x A=1` \(process \d+\)/);
        assert.deepEqual(err.holder, { pid: child.pid, command: "profiles set x A=1", file });
        return true;
      });
    });
  } finally {
    child.kill("SIGKILL");
  }
});

test("lock: a garbled file is waited for while young (a writer may be at it), broken once older", async () => {
  await inTempDir("lock", async (dir) => {
    const file = path.join(dir, "ports.lock");
    await fs.writeFile(file, "{\"pid\": 12");
    const t0 = Date.now();
    const lock = await acquireLock(dir, "ports", "test", 0);
    const waited = Date.now() - t0;
    assert.ok(waited >= UNREADABLE_GRACE_MS - 100 && waited < UNREADABLE_GRACE_MS + 1500, `waited ${waited} ms`);
    await lock.release();
    for (const text of ["", "null", "garbage\u0000", JSON.stringify({ pid: process.pid, command: "an older version", since: "x" })]) {
      await fs.writeFile(file, text);
      const old = new Date(Date.now() - 10_000);
      await fs.utimes(file, old, old);
      assert.ok((await takeAt(dir, "ports")) < 500, JSON.stringify(text));
    }
  });
});

test("lock: a breaker that died holding its claim does not block the next", async () => {
  await inTempDir("lock", async (dir) => {
    const file = path.join(dir, "roll.lock");
    await fs.writeFile(file, lockText(4_000_000, 1, bootId()));
    const seen = (await seeLock(file))!;
    await fs.writeFile(`${file}.break.${seen.key}`, lockText(4_000_001, 1, bootId(), "profiles roll (breaking a stale lock)"));
    await fs.writeFile(`${file}.break`, "left by an older version");
    assert.ok((await takeAt(dir, "roll")) < 500);
    assert.deepEqual(await fs.readdir(dir), []);
  });
});

test("lock: many processes breaking one stale lock never hold it at once", async () => {
  await inTempDir("lock", async (dir) => {
    for (let round = 0; round < 2; round++) {
      const log = path.join(dir, `log${round}`);
      await fs.writeFile(path.join(dir, "ports.lock"), lockText(1, startTicks(1)! + 1, bootId()));
      await lockWorkersTakeTurns(dir, log, 8);
      assert.deepEqual((await fs.readdir(dir)).filter((f) => !f.startsWith("log")), []);
    }
  });
});

test("lock: in one process, waiters on a stale lock take it one after another", async () => {
  await inTempDir("lock", async (dir) => {
    await fs.writeFile(path.join(dir, "ports.lock"), lockText(4_000_000, 1, bootId()));
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        const lock = await acquireLock(dir, "ports", "test", 10_000);
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
        await lock.release();
      }),
    );
    assert.equal(most, 1);
  });
});

test("lock: a wait for a live holder ends when the waiter's signal aborts, with its reason, and leaves the holder's lock", async () => {
  await inTempDir("lock", async (dir) => {
    const held = await acquireLock(dir, "profile-a", "profiles set a", 0);
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort("SIGINT"), 100);
    await assert.rejects(acquireLock(dir, "profile-a", "profiles start a", 30_000, abort.signal), (err: unknown) => err === "SIGINT");
    const waited = Date.now() - started;
    assert.ok(waited >= 100 && waited < 5_000, `waited ${waited} ms`);
    assert.equal((await seeLock(path.join(dir, "profile-a.lock")))?.owner?.pid, process.pid);
    await held.release();
  });
});

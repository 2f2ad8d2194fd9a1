import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { writeFileAtomic } from "../../src/store/atomic.js";
import { acquireLock } from "../../src/store/lock.js";
import { BusyError } from "../../src/errors.js";
import { setUnitKey, getUnitKey, quoteExecArg } from "../../src/systemd/unit-file.js";
import { execStartFor, splitWords } from "../../src/core/exec-command.js";
import { lockWorkersTakeTurns } from "../helpers/lock-workers.js";

async function tmp(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "ap-store-"));
}

test("atomic write: exact mode, no temporary file left behind", async () => {
  const dir = await tmp();
  const file = path.join(dir, ".env");
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(file, "A=1\n", 0o600);
    await writeFileAtomic(file, "A=2\n", 0o600);
    assert.equal(await fs.readFile(file, "utf8"), "A=2\n");
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await fs.readdir(dir), [".env"]);
  } finally {
    process.umask(old);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("atomic write: a temporary file a killed write left (secrets, 0600) is removed; a live process's and another file's stay", async () => {
  const dir = await tmp();
  try {
    // A PID that was just used and is gone: a write SIGKILLed between its write and its rename.
    const dead = spawnSync("true").pid!;
    const stale = `..env.${dead}.0badf00d.tmp`;
    const live = `..env.${process.ppid}.cafebabe.tmp`;
    const other = `.config.ini.${dead}.0badf00d.tmp`;
    for (const name of [stale, live, other]) await fs.writeFile(path.join(dir, name), "TOKEN=s3cret\n", { mode: 0o600 });
    await writeFileAtomic(path.join(dir, ".env"), "A=1\n", 0o600);
    assert.deepEqual((await fs.readdir(dir)).sort(), [".env", live, other].sort());
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("lock: a second holder waits, then gets it; a timeout names the holder", async () => {
  const dir = await tmp();
  try {
    const first = await acquireLock(dir, "ports", "test one", 0);
    await assert.rejects(acquireLock(dir, "ports", "test two", 0), (err: unknown) => err instanceof BusyError && err.message.includes(String(process.pid)));
    const waiting = acquireLock(dir, "ports", "test two", 5000);
    await first.release();
    const second = await waiting;
    await second.release();
    assert.deepEqual(await fs.readdir(dir), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("lock: a lock left by a dead process is broken", async () => {
  const dir = await tmp();
  try {
    // A pid far above pid_max's default cannot be alive.
    await fs.writeFile(path.join(dir, "roll.lock"), JSON.stringify({ pid: 4_000_000, command: "killed", since: "x" }));
    const lock = await acquireLock(dir, "roll", "test", 0);
    const owner = JSON.parse(await fs.readFile(path.join(dir, "roll.lock"), "utf8"));
    assert.equal(owner.pid, process.pid);
    await lock.release();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("lock: parallel processes never hold it at once", async () => {
  const dir = await tmp();
  try {
    await lockWorkersTakeTurns(dir, path.join(dir, "log"), 6);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("unit files: ExecStart replaced in place, keys added to a section, others untouched", () => {
  const text = "[Unit]\nDescription=x\n\n[Service]\nExecStart=/old\nExecStart=/old2\nRestart=on-failure\n\n[Install]\nWantedBy=default.target\n";
  const out = setUnitKey(text, "Service", "ExecStart", ["/new a"]);
  assert.deepEqual(getUnitKey(out, "Service", "ExecStart"), ["/new a"]);
  assert.deepEqual(getUnitKey(out, "Service", "Restart"), ["on-failure"]);
  const added = setUnitKey(out, "Service", "StandardOutput", ["append:/l/%i.log"]);
  assert.deepEqual(getUnitKey(added, "Service", "StandardOutput"), ["append:/l/%i.log"]);
  assert.deepEqual(getUnitKey(added, "Install", "WantedBy"), ["default.target"]);
  assert.ok(added.indexOf("StandardOutput") < added.indexOf("[Install]"));
});

test("exec: arguments quoted for systemd; program resolved through PATH", () => {
  assert.equal(quoteExecArg('/a b/"c"%$'), '"/a b/\\"c\\"%%$$"');
  assert.deepEqual(splitWords(`hermes --profile %i "gateway run" 'x y' a\\ b`), ["hermes", "--profile", "%i", "gateway run", "x y", "a b"]);
  const line = execStartFor("sh -c 'exec x --port ${PORT}'", "/nonexistent:/bin:/usr/bin");
  assert.match(line, /^"\/(usr\/)?bin\/sh" -c "exec x --port \$\{PORT\}"$/);
  assert.throws(() => execStartFor("no-such-gateway-binary", "/bin"), /not an executable/);
});

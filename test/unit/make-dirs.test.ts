import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import test from "node:test";
import { ExitCode, FileSystemError } from "../../src/errors.js";
import { ensureDir, ensureParent } from "../../src/store/atomic.js";
import { makeDirs } from "../../src/store/make-dirs.js";
import { inTempDir } from "../helpers/fakes.js";

test("makeDirs makes each missing parent with the mode, and is a no-op on an existing directory", async () => {
  await inTempDir("make-dirs-", async (dir) => {
    const deep = path.join(dir, "a", "b", "c");
    makeDirs(deep, 0o700);
    for (const d of [path.join(dir, "a"), path.join(dir, "a", "b"), deep]) assert.equal((await fs.stat(d)).mode & 0o777, 0o700, d);
    makeDirs(deep, 0o700);
    makeDirs(dir, 0o700);
  });
});

test("a directory /proc will not hold: mkdir(2)'s ENOENT, said once (node's recursive mkdir looped forever), named with its fix (exit 15)", async () => {
  assert.throws(() => makeDirs("/proc/agent-profiles-test/x", 0o700), (err: NodeJS.ErrnoException) => err.code === "ENOENT" && err.syscall === "mkdir");
  await assert.rejects(ensureDir("/proc/agent-profiles-test", 0o700), (err: unknown) => err instanceof FileSystemError && err.exitCode === ExitCode.fileSystem && /cannot set up the directory \/proc\/agent-profiles-test: the file system makes no directory there \(ENOENT\)/.test(err.message) && /XDG_\*_HOME/.test(err.hint ?? ""));
});

test("a file where a directory is needed (XDG_STATE_HOME=/etc/passwd): exit 15 naming that file, not a stack trace", async () => {
  await inTempDir("make-dirs-", async (dir) => {
    const file = path.join(dir, "state");
    await fs.writeFile(file, "not a directory");
    await assert.rejects(ensureParent(path.join(file, "agent-profiles", "locks", "x.lock")), (err: unknown) => {
      assert.ok(err instanceof FileSystemError, String(err));
      assert.equal(err.exitCode, ExitCode.fileSystem);
      assert.match(err.message, /a part of its path is a file, not a directory \(ENOTDIR\)/);
      assert.equal(err.hint, `${file} is a file where a directory is needed: move it aside, or point what leads there (an XDG_*_HOME variable, \`init --log-dir\`) elsewhere`);
      return true;
    });
    assert.equal(await fs.readFile(file, "utf8"), "not a directory");
  });
});

test("a file where the directory itself belongs (init --log-dir ~/notes.txt) is ENOTDIR, and the file keeps its mode", async () => {
  await inTempDir("make-dirs-", async (dir) => {
    const file = path.join(dir, "notes.txt");
    await fs.writeFile(file, "mine", { mode: 0o644 });
    assert.throws(() => makeDirs(file, 0o700), (err: NodeJS.ErrnoException) => err.code === "ENOTDIR" && err.path === file);
    await assert.rejects(ensureDir(file, 0o700), (err: unknown) => err instanceof FileSystemError && err.exitCode === ExitCode.fileSystem && err.hint?.startsWith(`${file} is a file where a directory is needed`) === true);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o644);
  });
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { envFile, profileDir, resolvePaths } from "../../src/paths.js";
import { adoptText, commitEnvText, generationFile, generationsDir, history, markKnownGood, readGeneration, sha256 } from "../../src/store/generations.js";
import { ExitCode, FileSystemError, fileSystemFault } from "../../src/errors.js";
import type { Limits } from "../../src/store/limits.js";
import { withLimits } from "../../src/store/limits-change.js";
import { ensureDir } from "../../src/store/atomic.js";

async function world() {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-order-"));
  return { home, paths: resolvePaths({ HOME: home }), cleanup: () => fs.rm(home, { recursive: true, force: true }) };
}

/** Every file under `dir` with its bytes, and every directory, for nothing-changed checks. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => [])) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        out.set(`${r}/`, "dir");
        await walk(r);
      }
      else out.set(r, (await fs.readFile(path.join(dir, r))).toString("hex"));
    }
  };
  await walk(".");
  return out;
}

// Each step of a commit fails once, through a directory where its file would go (rename(2) refuses to
// replace a directory with a file): nothing changes, no temp file stays.
const STEPS: { step: string; block: (w: Awaited<ReturnType<typeof world>>) => string }[] = [
  { step: "the generation file", block: (w) => generationFile(w.paths, "p", 3) },
  { step: "the .env", block: (w) => envFile(w.paths, "p") },
  { step: "index.json", block: (w) => path.join(generationsDir(w.paths, "p"), "index.json") },
];

for (const { step, block } of STEPS) {
  test(`a commit failing at ${step} leaves the .env, index.json and every generation file as they were`, async () => {
    const w = await world();
    try {
      await commitEnvText(w.paths, "p", 'PORT="1"\n', "add", { keep: 2 });
      await markKnownGood(w.paths, "p", sha256('PORT="1"\n'), 2);
      await commitEnvText(w.paths, "p", 'PORT="1"\nA="1"\n', "set A", { keep: 2 });
      const blocked = block(w);
      // The .env and index.json are replaced by rename: hold their bytes in a directory's place.
      const held = await fs.readFile(blocked).catch(() => null);
      if (held) await fs.rm(blocked);
      await fs.mkdir(blocked);
      const before = await snapshot(w.home);
      await assert.rejects(commitEnvText(w.paths, "p", 'PORT="1"\nA="2"\n', "set A", { keep: 2 }));
      assert.deepEqual(await snapshot(w.home), before, "nothing changed, no temp file left");
      await fs.rmdir(blocked);
      if (held) await fs.writeFile(blocked, held, { mode: 0o600 });
      // keep 2 would have pruned generation 1 had the commit gone through; it failed, so 1 is still there.
      assert.deepEqual((await history(w.paths, "p")).generations.map((g) => g.number), [1, 2]);
      const gen = await commitEnvText(w.paths, "p", 'PORT="1"\nA="2"\n', "set A", { keep: 2 });
      assert.equal(gen.number, 3);
    } finally {
      await w.cleanup();
    }
  });
}

test("an add whose .env cannot be written leaves no generation, nor the directory made for them", async () => {
  const w = await world();
  try {
    // A file where the profile's directory would go: its generation is written, then the .env fails.
    await fs.mkdir(w.paths.profilesDir, { recursive: true });
    await fs.writeFile(profileDir(w.paths, "p"), "");
    await assert.rejects(commitEnvText(w.paths, "p", 'PORT="1"\n', "add"));
    await assert.rejects(fs.stat(generationsDir(w.paths, "p")), /ENOENT/);
    assert.equal((await history(w.paths, "p")).generations.length, 0);
  } finally {
    await w.cleanup();
  }
});

test("a crash between the .env and index.json: the next commit adopts the generation file it left, losing nothing", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "add");
    // What a commit of generation 2 leaves when killed after replacing the .env: its file, the .env, no index entry.
    const lost = 'PORT="1"\nA="\xff"\n';
    await fs.writeFile(generationFile(w.paths, "p", 2), Buffer.from(lost, "latin1"), { mode: 0o600 });
    await fs.writeFile(envFile(w.paths, "p"), Buffer.from(lost, "latin1"), { mode: 0o600 });
    assert.equal((await history(w.paths, "p")).current, null);
    await commitEnvText(w.paths, "p", 'PORT="1"\nB="1"\n', "set B");
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => [g.number, g.reason, g.changed]), [
      [1, "add", ["PORT"]],
      [2, "found on disk (its change stopped before history recorded it)", ["A"]],
      [3, "set B", ["A", "B"]],
    ]);
    assert.equal(h.generations[1]!.sha256, sha256(Buffer.from(lost, "latin1")));
    assert.deepEqual(await fs.readFile(generationFile(w.paths, "p", 2)), Buffer.from(lost, "latin1"));
  } finally {
    await w.cleanup();
  }
});

test("the same crash after a hand edit: a start's adoption keeps both the hand edit and the interrupted change", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "add");
    await fs.writeFile(generationFile(w.paths, "p", 2), "PORT=1\nHAND=1\n", { mode: 0o600 });
    await fs.writeFile(generationFile(w.paths, "p", 3), 'PORT="1"\nHAND="1"\nA="1"\n', { mode: 0o600 });
    await fs.writeFile(envFile(w.paths, "p"), 'PORT="1"\nHAND="1"\nA="1"\n', { mode: 0o600 });
    const adopted = await adoptText(w.paths, "p", await fs.readFile(envFile(w.paths, "p"), "utf8"));
    assert.equal(adopted.number, 3);
    assert.equal((await markKnownGood(w.paths, "p", adopted.sha256))?.number, 3);
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => [g.number, g.reason, g.knownGood]), [
      [1, "add", false],
      [2, "found on disk (edited by hand)", false],
      [3, "found on disk (its change stopped before history recorded it)", true],
    ]);
    assert.equal(h.current, 3);
  } finally {
    await w.cleanup();
  }
});

test("a stale generation file beyond next that the .env does not hold is no generation: the hand edit is kept over it", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "add");
    await fs.writeFile(generationFile(w.paths, "p", 2), "never the .env\n", { mode: 0o600 });
    await fs.writeFile(envFile(w.paths, "p"), "PORT=1\nHAND=1\n", { mode: 0o600 });
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "set back");
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => [g.number, g.reason]), [[1, "add"], [2, "found on disk (edited by hand)"], [3, "set back"]]);
    assert.equal(await readGeneration(w.paths, "p", 2), "PORT=1\nHAND=1\n");
  } finally {
    await w.cleanup();
  }
});

test("errno faults of the file system become FileSystemError (exit 15) naming the path, the errno in words and the fix", () => {
  const errno = (code: string, syscall: string, p?: string) => Object.assign(new Error(`${code}: ${syscall}`), { code, syscall, path: p });
  const cases: [string, RegExp, RegExp][] = [
    ["ENOSPC", /no space left/, /df -h \/s\/gen/],
    ["EDQUOT", /quota/, /quota -s/],
    ["EROFS", /read-only/, /remount,rw/],
    ["EACCES", /permission denied/, /chown -R \$USER \/s\/gen/],
    ["EPERM", /not permitted/, /lsattr/],
  ];
  for (const [code, what, fix] of cases) {
    const e = fileSystemFault(errno(code, "write"), "/s/gen/3.env");
    assert.ok(e instanceof FileSystemError, code);
    assert.equal(e.exitCode, ExitCode.fileSystem);
    assert.equal(e.exitCode, 15);
    assert.match(e.message, new RegExp(`^cannot write /s/gen/3\\.env: .*\\(${code}\\)$`));
    assert.match(e.message, what);
    assert.match(e.hint ?? "", fix);
  }
  assert.match(fileSystemFault(errno("EACCES", "open", "/c/x"))?.message ?? "", /^cannot open \/c\/x: permission denied/);
  assert.match(fileSystemFault(errno("EROFS", "stat", "/c/x"))?.message ?? "", /^cannot read \/c\/x/);
  assert.equal(fileSystemFault(errno("EPERM", "kill")), null, "a signal refused is no file system fault");
  assert.equal(fileSystemFault(errno("EISDIR", "rename", "/c/x")), null);
  assert.equal(fileSystemFault(new Error("plain")), null);
});

test("limits whose generation cannot be committed are put back: limits.json and the drop-in as they were, or gone", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "add");
    await fs.mkdir(w.paths.unitDir, { recursive: true }); // as `profiles init` leaves it
    // As `profiles limits` does it: the limits, then the same .env as a generation recording them.
    const limits = (l: Limits) => withLimits(w.paths, "p", l, () => commitEnvText(w.paths, "p", 'PORT="1"\n', "limits", { always: true }));
    const index = path.join(generationsDir(w.paths, "p"), "index.json");
    const held = await fs.readFile(index);
    await fs.rm(index);
    await fs.mkdir(index);
    const before = await snapshot(w.home);
    await assert.rejects(limits({ MemoryMax: "512M" }));
    assert.deepEqual(await snapshot(w.home), before, "no limits.json, no drop-in, no drop-in directory");
    await fs.rmdir(index);
    await fs.writeFile(index, held, { mode: 0o600 });
    await limits({ MemoryMax: "512M" });
    const set = await snapshot(w.home);
    await fs.rm(index);
    await fs.mkdir(index);
    await assert.rejects(limits({ TasksMax: "64" }));
    await fs.rmdir(index);
    const after = await snapshot(w.home);
    assert.deepEqual([...after].filter(([k]) => !k.endsWith("index.json")), [...set].filter(([k]) => !k.endsWith("index.json")), "512M still in force");
  } finally {
    await w.cleanup();
  }
});

test("ensureDir on a read-only file system: EROFS named (node's recursive mkdir says ENOENT there)", { skip: process.getuid?.() !== 0 ? "needs root to mount a tmpfs" : false }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-ro-"));
  const { execFileSync } = await import("node:child_process");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", dir]);
  } catch {
    return; // no mount here (a container without the capability): nothing to see
  }
  try {
    await assert.rejects(ensureDir(path.join(dir, "x"), 0o700), (e: unknown) => e instanceof FileSystemError && e.code === "EROFS" && e.exitCode === 15);
  } finally {
    execFileSync("umount", [dir]);
    await fs.rmdir(dir);
  }
});

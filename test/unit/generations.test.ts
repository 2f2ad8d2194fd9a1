import { test } from "node:test";
import { markCurrent } from "../helpers/generations.js";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { resolvePaths, envFile } from "../../src/paths.js";
import { commitEnvText, corruptGenerations, forgetGeneration, history, lastKnownGood, newestIntact, readGeneration, sha256, generationsDir } from "../../src/store/generations.js";
import { BadFileError, UsageError } from "../../src/errors.js";
import { flipBit, truncateHalf } from "../helpers/corrupt.js";

async function world() {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-gen-"));
  return { home, paths: resolvePaths({ HOME: home }), cleanup: () => fs.rm(home, { recursive: true, force: true }) };
}

test("each commit is a generation with its exact bytes, the keys it changed, 0600 files", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "add");
    await commitEnvText(w.paths, "p", 'PORT="1"\nA="x"\n', "set A");
    const same = await commitEnvText(w.paths, "p", 'PORT="1"\nA="x"\n', "set A");
    assert.equal(same.number, 2, "an unchanged file is no new generation");
    await commitEnvText(w.paths, "p", 'PORT="2"\n', "set PORT, unset A");
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => [g.number, g.reason, g.changed]), [[1, "add", ["PORT"]], [2, "set A", ["A"]], [3, "set PORT, unset A", ["A", "PORT"]]]);
    assert.equal(h.current, 3);
    assert.equal(await readGeneration(w.paths, "p", 2), 'PORT="1"\nA="x"\n');
    assert.equal(await fs.readFile(envFile(w.paths, "p"), "utf8"), 'PORT="2"\n');
    for (const f of await fs.readdir(generationsDir(w.paths, "p"))) {
      assert.equal((await fs.stat(path.join(generationsDir(w.paths, "p"), f))).mode & 0o777, 0o600, f);
    }
    await assert.rejects(readGeneration(w.paths, "p", 9), (e: unknown) => e instanceof UsageError && /kept: 1, 2, 3/.test((e as Error).message));
  } finally {
    await w.cleanup();
  }
});

test("a hand edit is kept as a generation before the next change; known-good follows the file", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", 'PORT="1"\n', "add");
    assert.equal((await markCurrent(w.paths, "p"))?.number, 1);
    await fs.writeFile(envFile(w.paths, "p"), "PORT=1\nHAND=yes\n");
    assert.equal((await history(w.paths, "p")).current, null);
    await commitEnvText(w.paths, "p", 'PORT="1"\nNEW="1"\n', "set NEW");
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => [g.number, g.reason, g.knownGood]), [[1, "add", true], [2, "found on disk (edited by hand)", false], [3, "set NEW", false]]);
    assert.equal(await readGeneration(w.paths, "p", 2), "PORT=1\nHAND=yes\n");
    assert.equal(lastKnownGood(h.generations)?.number, 1);
    assert.equal(lastKnownGood(h.generations, 1), null);
  } finally {
    await w.cleanup();
  }
});

test("always: a restore of an older text is a new generation, so it can be undone", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", "A=1\n", "add");
    await commitEnvText(w.paths, "p", "A=2\n", "set A");
    const back = await commitEnvText(w.paths, "p", await readGeneration(w.paths, "p", 1), "rollback to 1", { always: true });
    assert.equal(back.number, 3);
    assert.equal(back.sha256, sha256("A=1\n"));
    assert.equal((await history(w.paths, "p")).current, 3);
  } finally {
    await w.cleanup();
  }
});

test("pruning keeps the last N and the newest known-good", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", "A=0\n", "add", { keep: 3 });
    await markCurrent(w.paths, "p", 3);
    for (let i = 1; i <= 6; i++) await commitEnvText(w.paths, "p", `A=${i}\n`, `set ${i}`, { keep: 3 });
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => g.number), [1, 5, 6, 7]);
    assert.deepEqual((await fs.readdir(generationsDir(w.paths, "p"))).sort(), ["1.env", "5.env", "6.env", "7.env", "index.json"]);
  } finally {
    await w.cleanup();
  }
});

test("a generation whose bytes no longer match its sha256 is refused by every verified read, named with both sha prefixes", async () => {
  const w = await world();
  try {
    for (let i = 1; i <= 4; i++) await commitEnvText(w.paths, "p", `PORT="1"\nA="${i}"\n`, `set ${i}`);
    const file = (n: number) => path.join(generationsDir(w.paths, "p"), `${n}.env`);
    const bytes = await fs.readFile(file(2));
    await truncateHalf(file(2));
    await flipBit(file(3));
    await fs.rm(file(1));
    const index = await fs.readFile(path.join(generationsDir(w.paths, "p"), "index.json"), "utf8");
    const expected = sha256(bytes).slice(0, 12);
    await assert.rejects(readGeneration(w.paths, "p", 2), (e: unknown) => {
      assert.ok(e instanceof BadFileError);
      assert.equal(e.exitCode, 12);
      assert.equal(e.file, file(2));
      assert.match(e.message, new RegExp(`generation 2 \\(sha256 ${expected}… expected, [0-9a-f]{12}… found\\): it is never restored`));
      assert.match(e.hint ?? "", /profiles doctor/);
      return true;
    });
    await assert.rejects(readGeneration(w.paths, "p", 3), (e: unknown) => e instanceof BadFileError && e.file === file(3));
    await assert.rejects(readGeneration(w.paths, "p", 1), (e: unknown) => e instanceof BadFileError && /is missing although index.json lists it/.test(e.message));
    assert.equal(await readGeneration(w.paths, "p", 4), 'PORT="1"\nA="4"\n');
    assert.deepEqual((await corruptGenerations(w.paths, "p")).map((c) => [c.number, c.file, c.actual === null]), [[1, file(1), true], [2, file(2), false], [3, file(3), false]]);
    const h = await history(w.paths, "p");
    const picked = await newestIntact(w.paths, "p", h.generations.slice(0, 3));
    assert.equal(picked.generation, null);
    assert.deepEqual(picked.skipped.map((c) => c.number), [3, 2, 1], "newest first");
    assert.equal((await newestIntact(w.paths, "p", h.generations)).generation?.number, 4);
    assert.equal(await fs.readFile(path.join(generationsDir(w.paths, "p"), "index.json"), "utf8"), index, "reads change nothing");
  } finally {
    await w.cleanup();
  }
});

test("pruning keeps the newest known-good generation whose file is intact, not a corrupt newer one", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", "A=0\n", "add", { keep: 2 });
    await markCurrent(w.paths, "p", 2);
    await commitEnvText(w.paths, "p", "A=1\n", "set 1", { keep: 2 });
    await markCurrent(w.paths, "p", 2);
    await flipBit(path.join(generationsDir(w.paths, "p"), "2.env"));
    for (let i = 2; i <= 4; i++) await commitEnvText(w.paths, "p", `A=${i}\n`, `set ${i}`, { keep: 2 });
    assert.deepEqual((await history(w.paths, "p")).generations.map((g) => g.number), [1, 4, 5]);
  } finally {
    await w.cleanup();
  }
});

test("forgetGeneration drops a corrupt generation and its file, and refuses an intact one", async () => {
  const w = await world();
  try {
    await commitEnvText(w.paths, "p", "A=1\n", "add");
    await commitEnvText(w.paths, "p", "A=2\n", "set A");
    await truncateHalf(path.join(generationsDir(w.paths, "p"), "1.env"));
    await assert.rejects(forgetGeneration(w.paths, "p", 2), (e: unknown) => e instanceof UsageError && /intact/.test(e.message));
    await assert.rejects(forgetGeneration(w.paths, "p", 7), (e: unknown) => e instanceof UsageError && /no generation 7/.test(e.message));
    assert.equal((await forgetGeneration(w.paths, "p", 1)).number, 1);
    assert.deepEqual((await history(w.paths, "p")).generations.map((g) => g.number), [2]);
    assert.deepEqual((await fs.readdir(generationsDir(w.paths, "p"))).sort(), ["2.env", "index.json"]);
    assert.deepEqual(await corruptGenerations(w.paths, "p"), []);
  } finally {
    await w.cleanup();
  }
});

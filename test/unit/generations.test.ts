import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { resolvePaths, envFile } from "../../src/paths.js";
import { commitEnvText, history, lastKnownGood, markKnownGood, readGeneration, sha256, generationsDir } from "../../src/store/generations.js";
import { UsageError } from "../../src/errors.js";

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
    assert.equal((await markKnownGood(w.paths, "p"))?.number, 1);
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
    await markKnownGood(w.paths, "p", 3);
    for (let i = 1; i <= 6; i++) await commitEnvText(w.paths, "p", `A=${i}\n`, `set ${i}`, { keep: 3 });
    const h = await history(w.paths, "p");
    assert.deepEqual(h.generations.map((g) => g.number), [1, 5, 6, 7]);
    assert.deepEqual((await fs.readdir(generationsDir(w.paths, "p"))).sort(), ["1.env", "5.env", "6.env", "7.env", "index.json"]);
  } finally {
    await w.cleanup();
  }
});

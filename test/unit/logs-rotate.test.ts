import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { rotateFile } from "../../src/core/logs/rotate.js";
import { whileFrozen } from "../../src/processes/freezer.js";
import { inTempDir } from "../helpers/fakes.js";

test("rotateFile: copies to .1, shifts older ones, drops those past keep, empties the file in place", () =>
  inTempDir("rotate", async (dir) => {
    const file = path.join(dir, "liam.log");
    await fs.writeFile(file, "a\nb\n", { mode: 0o640 });
    const ino = (await fs.stat(file)).ino;
    const paused: string[] = [];
    const pause = async <T>(body: () => Promise<T>) => {
      // What the gateway writes after the first copy caught up and before the cut: it must land in .1.
      await fs.appendFile(file, "late\n");
      paused.push("paused");
      return { value: await body(), frozen: true };
    };
    assert.deepEqual(await rotateFile(file, 3, pause), { bytes: 9, frozen: true });
    assert.equal(await fs.readFile(`${file}.1`, "utf8"), "a\nb\nlate\n");
    assert.equal((await fs.stat(`${file}.1`)).mode & 0o777, 0o640);
    assert.equal((await fs.stat(file)).size, 0);
    assert.equal((await fs.stat(file)).ino, ino, "the same file: the manager's descriptor still points at it");
    for (const n of [2, 3]) {
      await fs.appendFile(file, `run ${n}\n`);
      await rotateFile(file, 3, pause);
    }
    assert.deepEqual((await fs.readdir(dir)).sort(), ["liam.log", "liam.log.1", "liam.log.2", "liam.log.3"]);
    assert.equal(await fs.readFile(`${file}.3`, "utf8"), "a\nb\nlate\n");
    await fs.appendFile(file, "run 4\n");
    await rotateFile(file, 3, pause);
    assert.equal(await fs.readFile(`${file}.3`, "utf8"), "run 2\nlate\n", "the oldest fell off");
    // keep lowered to 1: the files past it go.
    await fs.appendFile(file, "run 5\n");
    await rotateFile(file, 1, pause);
    assert.deepEqual((await fs.readdir(dir)).sort(), ["liam.log", "liam.log.1"]);
    assert.equal(paused.length, 5);
  }));

test("whileFrozen: writes 1 then 0 to the unit's cgroup.freeze and waits for frozen; no file, no freeze", () =>
  inTempDir("rotate", async (root) => {
    const cg = "/user.slice/user-1000.slice/user@1000.service/app.slice/agent-gateway@liam.service";
    const dir = path.join(root, "unified", cg);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, "cgroup.freeze"), "0");
    await fs.writeFile(path.join(dir, "cgroup.events"), "populated 1\nfrozen 1\n");
    const seen = await whileFrozen(cg, async () => fs.readFile(path.join(dir, "cgroup.freeze"), "utf8"), root);
    assert.deepEqual(seen, { value: "1", frozen: true });
    assert.equal(await fs.readFile(path.join(dir, "cgroup.freeze"), "utf8"), "0", "thawed");
    // A body that throws still thaws.
    await assert.rejects(whileFrozen(cg, async () => { throw new Error("boom"); }, root), /boom/);
    assert.equal(await fs.readFile(path.join(dir, "cgroup.freeze"), "utf8"), "0");
    assert.deepEqual(await whileFrozen("/no/such/cgroup", async () => 7, root), { value: 7, frozen: false });
    assert.deepEqual(await whileFrozen("", async () => 8, root), { value: 8, frozen: false });
  }));

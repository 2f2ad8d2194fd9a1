/**
 * The cache of GetUnitFileState answers, on real directories with a scripted manager and clock: reused
 * while nothing changed, asked again after each kind of change that alters an answer, never reused
 * within RACY_MS of a change, and a garbled or unwritable file is no cache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { inTempDir } from "../helpers/fakes.js";
import { RACY_MS, UnitFileStateCache, type UnitFileSource } from "../../src/systemd/unit-file-cache.js";

const A = "agent-gateway@a.service";
const B = "agent-gateway@b.service";

/** A manager whose answers follow the symlinks in `<config>/default.target.wants`, counting what it is asked. */
class Manager implements UnitFileSource {
  asked: string[] = [];
  release = "252";
  /** Failures of UnitPath still to come. */
  failUnitPath = 0;
  constructor(private readonly dirs: string[]) {}
  async unitPath(): Promise<string[]> {
    if (this.failUnitPath-- > 0) throw new Error("no reply within 25000 ms");
    return this.dirs;
  }
  async version(): Promise<string> {
    return this.release;
  }
  async unitFileState(unit: string): Promise<string> {
    this.asked.push(unit);
    if (!unit.startsWith("agent-gateway@")) return "static";
    return fs.existsSync(path.join(this.dirs[0]!, "default.target.wants", unit)) ? "enabled" : "disabled";
  }
}

interface Setup {
  config: string;
  runtime: string;
  file: string;
  manager: Manager;
  /** A cache as a new run would make it, its clock `aheadMs` past the newest change (RACY_MS + 1 s by default). */
  run(aheadMs?: number): UnitFileStateCache;
}

async function withSetup(body: (s: Setup) => Promise<void>): Promise<void> {
  await inTempDir("unit-file-cache", async (dir) => {
    const config = path.join(dir, "config");
    const runtime = path.join(dir, "runtime");
    fs.mkdirSync(path.join(config, "default.target.wants"), { recursive: true });
    fs.writeFileSync(path.join(config, "agent-gateway@.service"), "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=default.target\n");
    fs.symlinkSync("../agent-gateway@.service", path.join(config, "default.target.wants", A));
    // Drop-ins that apply: the template's, an instance's, a dash prefix's and every service's.
    for (const d of ["agent-gateway@.service.d", "agent-gateway@a.service.d", "agent-.service.d", "service.d"]) {
      fs.mkdirSync(path.join(config, d));
      fs.writeFileSync(path.join(config, d, "50-x.conf"), "[Service]\nNice=1\n");
    }
    const file = path.join(dir, "cache", "unit-file-states.json");
    const manager = new Manager([config, runtime]);
    // The clock of each run: past every change made so far (file times are the wall clock's).
    const run = (aheadMs = RACY_MS + 1_000): UnitFileStateCache => new UnitFileStateCache(manager, file, "agent-gateway@", () => Date.now() + aheadMs);
    await body({ config, runtime, file, manager, run });
  });
}

test("answers are reused by the next run while the unit directories are unchanged", async () => {
  await withSetup(async ({ manager, run, file }) => {
    assert.deepEqual(await run().states([A, B]), ["enabled", "disabled"]);
    assert.deepEqual(manager.asked, [A, B]);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    manager.asked = [];
    assert.deepEqual(await run().states([A, B]), ["enabled", "disabled"]);
    assert.deepEqual(manager.asked, [], "asked again although nothing changed");
    // A unit not asked before is asked, and kept beside the others.
    assert.deepEqual(await run().states([A, "agent-gateway@c.service"]), ["enabled", "disabled"]);
    assert.deepEqual(manager.asked, ["agent-gateway@c.service"]);
    manager.asked = [];
    await run().states([A, B, "agent-gateway@c.service"]);
    assert.deepEqual(manager.asked, []);
  });
});

test("each change that can alter an answer makes the next run ask again", async () => {
  const changes: [string, (s: Setup) => void][] = [
    ["disabled by hand (a symlink removed)", (s) => fs.rmSync(path.join(s.config, "default.target.wants", A))],
    ["enabled by hand (a symlink added)", (s) => fs.symlinkSync("../agent-gateway@.service", path.join(s.config, "default.target.wants", B))],
    ["masked (a file named like the unit)", (s) => fs.symlinkSync("/dev/null", path.join(s.config, B))],
    ["the template edited in place", (s) => fs.appendFileSync(path.join(s.config, "agent-gateway@.service"), "# edited\n")],
    ["the template's mode changed", (s) => fs.chmodSync(path.join(s.config, "agent-gateway@.service"), 0o600)],
    ["a directory of the search path made", (s) => fs.mkdirSync(s.runtime)],
    ["a new .wants directory", (s) => fs.mkdirSync(path.join(s.config, "multi-user.target.wants"))],
    // systemd reads [Install] in drop-ins too (WantedBy= emptied there makes an instance "static").
    ...["agent-gateway@.service.d", "agent-gateway@a.service.d", "agent-.service.d", "service.d"].map(
      (d): [string, (s: Setup) => void] => [`a drop-in in ${d} edited in place`, (s) => fs.appendFileSync(path.join(s.config, d, "50-x.conf"), "[Install]\nWantedBy=\n")],
    ),
    ["a drop-in added to the template's", (s) => fs.writeFileSync(path.join(s.config, "agent-gateway@.service.d", "60-y.conf"), "[Install]\nWantedBy=\n")],
    ["the manager upgraded", (s) => void (s.manager.release = "253")],
  ];
  for (const [what, change] of changes) {
    await withSetup(async (s) => {
      await s.run().states([A, B]);
      change(s);
      s.manager.asked = [];
      const states = await s.run().states([A, B]);
      assert.deepEqual(s.manager.asked, [A, B], what);
      assert.deepEqual(states, [await s.manager.unitFileState(A), await s.manager.unitFileState(B)], what);
    });
  }
});

test("within RACY_MS of a change, or with the clock behind the files, nothing is reused or kept", async () => {
  await withSetup(async ({ manager, run, file }) => {
    await run(RACY_MS - 100).states([A]);
    assert.equal(fs.existsSync(file), false, "kept an answer made right after a change");
    await run().states([A]);
    assert.ok(fs.existsSync(file));
    manager.asked = [];
    await run(RACY_MS - 100).states([A]);
    await run(-60_000).states([A]);
    assert.deepEqual(manager.asked, [A, A], "reused an answer while a change was recent");
  });
});

test("drop-ins of other units, and files in them other than .conf, make no difference", async () => {
  await withSetup(async (s) => {
    await s.run().states([A, B]);
    fs.appendFileSync(path.join(s.config, "service.d", "50-x.conf.bak"), "x");
    fs.mkdirSync(path.join(s.config, "other.service.d"));
    fs.writeFileSync(path.join(s.config, "other.service.d", "x.conf"), "x");
    // Made 2 s earlier as the clock sees it: settled again, since the directory's mtime changed.
    s.manager.asked = [];
    await s.run(RACY_MS + 5_000).states([A, B]);
    assert.deepEqual(s.manager.asked, [A, B], "a new directory in a unit directory changes that directory");
    fs.appendFileSync(path.join(s.config, "other.service.d", "x.conf"), "y");
    fs.appendFileSync(path.join(s.config, "service.d", "50-x.conf.bak"), "y");
    s.manager.asked = [];
    await s.run(RACY_MS + 5_000).states([A, B]);
    assert.deepEqual(s.manager.asked, [], "asked again after an edit of a drop-in that does not apply");
  });
});

test("a UnitPath that could not be asked is asked again on the next look, not remembered as failed", async () => {
  await withSetup(async ({ manager, run }) => {
    const cache = run();
    manager.failUnitPath = 1;
    await assert.rejects(cache.states([A]), /no reply/);
    assert.deepEqual(await cache.states([A]), ["enabled"]);
  });
});

test("a garbled, foreign or unwritable cache file is no cache, and no error", async () => {
  for (const content of ["{", "null", '{"version":1,"fingerprint":"x","states":{}}', '{"version":2,"states":{}}', '{"version":1,"fingerprint":"","states":{"a":1}}']) {
    await withSetup(async ({ manager, run, file }) => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
      assert.deepEqual(await run().states([A, B]), ["enabled", "disabled"], content);
      assert.deepEqual(manager.asked, [A, B], content);
    });
  }
  // One with another run's fingerprint but every answer flipped: not reused, since the fingerprint differs.
  await withSetup(async ({ manager, run, file, config }) => {
    await run().states([A]);
    const kept = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...kept, fingerprint: kept.fingerprint.replace(config, "/elsewhere"), states: { [A]: "disabled" } }));
    manager.asked = [];
    assert.deepEqual(await run().states([A]), ["enabled"]);
    assert.deepEqual(manager.asked, [A]);
  });
  // A state the manager never answers, under the right fingerprint: not reused.
  await withSetup(async ({ manager, run, file }) => {
    await run().states([A]);
    const kept = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...kept, states: { [A]: "enabled\u001b[2J" } }));
    manager.asked = [];
    assert.deepEqual(await run().states([A]), ["enabled"]);
    assert.deepEqual(manager.asked, [A]);
  });
  // A directory others may write (a shared $XDG_CACHE_HOME): neither read nor written.
  await withSetup(async ({ manager, run, file }) => {
    await run().states([A]);
    fs.chmodSync(path.dirname(file), 0o777);
    const before = fs.readFileSync(file, "utf8");
    manager.asked = [];
    await run().states([A, B]);
    await run().states([A, B]);
    assert.deepEqual(manager.asked, [A, B, A, B]);
    assert.equal(fs.readFileSync(file, "utf8"), before);
  });
  // The cache's directory is a file: answers as ever, nothing thrown, nothing left beside it.
  await withSetup(async ({ run, file }) => {
    fs.writeFileSync(path.dirname(file), "not a directory");
    assert.deepEqual(await run().states([A]), ["enabled"]);
    assert.deepEqual(await run().states([A]), ["enabled"]);
  });
});

test("other units are asked each time, and a manager's error is passed on with nothing kept", async () => {
  await withSetup(async ({ manager, run }) => {
    await run().states(["sshd.service", A]);
    await run().states(["sshd.service", A]);
    assert.deepEqual(manager.asked, ["sshd.service", A, "sshd.service"]);
  });
  await withSetup(async ({ manager, run, file }) => {
    manager.unitFileState = async () => {
      throw new Error("bus gone");
    };
    await assert.rejects(run().states([A]), /bus gone/);
    assert.equal(fs.existsSync(file), false);
  });
  // Without a file the cache is off: the manager is asked every time.
  await withSetup(async ({ manager }) => {
    const off = new UnitFileStateCache(manager, undefined, "agent-gateway@", () => Date.now() + 60_000);
    await off.states([A]);
    await off.states([A]);
    assert.deepEqual(manager.asked, [A, A]);
  });
});

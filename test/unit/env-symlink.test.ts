// A `.env` that is a symlink (a dotfiles repository, stow, home-manager) keeps its link through every
// write: the target gets the new bytes, 0600, and a write that fails leaves both as they were.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import diff from "../../src/commands/diff.js";
import env from "../../src/commands/env.js";
import historyVerb from "../../src/commands/history.js";
import list from "../../src/commands/list.js";
import remove from "../../src/commands/remove.js";
import rollback from "../../src/commands/rollback.js";
import set from "../../src/commands/set.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { TopFeed } from "../../src/core/top/feed.js";
import { parseEnv, serializeEnv } from "../../src/store/envfile.js";
import { corruptGenerations, generationFile, generationsDir, history } from "../../src/store/generations.js";
import { fails } from "../helpers/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const setArgs = (pairs: string[]) => ({ ...g, name: "liam", pairs, restart: true, wait: 5 });

/** liam added, then its `.env` moved into a "dotfiles" directory and linked back (as stow does it, relative). */
async function linked() {
  const w = await fakeWorld({ portRange: { from: 9600, to: 9620 } });
  await add.run({ ...g, name: "liam", start: true, wait: 5, env: ["A=1"] }, w.ctx);
  const link = envFile(w.ctx.paths, "liam");
  const dotfiles = path.join(w.home, "dotfiles");
  const target = path.join(dotfiles, "liam.env");
  await fs.mkdir(dotfiles);
  await fs.rename(link, target);
  await fs.chmod(target, 0o644);
  await fs.symlink(path.relative(path.dirname(link), target), link);
  const linkTo = await fs.readlink(link);
  /** The dotfiles directory's target as it is, without looking at the link. */
  const dotfilesNow = async () => ({ text: await fs.readFile(target, "utf8"), mode: (await fs.stat(target)).mode & 0o777, dotfiles: (await fs.readdir(dotfiles)).sort() });
  /** The link is still the same link, and what the target holds. */
  const state = async () => {
    assert.ok((await fs.lstat(link)).isSymbolicLink(), "the .env is still a symlink");
    assert.equal(await fs.readlink(link), linkTo, "pointing where it pointed");
    return dotfilesNow();
  };
  return { ...w, link, target, dotfiles, state, dotfilesNow };
}

test("set on a symlinked .env writes through the link: the link stays, the target gets the change, 0600", async () => {
  const w = await linked();
  try {
    await set.run(setArgs(["A=2"]), w.ctx);
    const s = await w.state();
    assert.match(s.text, /^A="?2"?$/m);
    assert.equal(s.mode, 0o600);
    assert.deepEqual(s.dotfiles, ["liam.env"], "no temporary file left beside the target");
    assert.deepEqual((await history(w.ctx.paths, "liam")).generations.map((x) => x.reason), ["add", "set A"]);
  } finally {
    await w.cleanup();
  }
});

test("rollback on a symlinked .env restores the generation into the target, the link kept", async () => {
  const w = await linked();
  try {
    await set.run(setArgs(["A=2"]), w.ctx);
    await rollback.run({ ...g, name: "liam", restart: true, wait: 5, to: "1" }, w.ctx);
    const s = await w.state();
    assert.match(s.text, /^A="?1"?$/m);
    assert.doesNotMatch(s.text, /^A="?2"?$/m);
  } finally {
    await w.cleanup();
  }
});

test("a commit that fails after writing through the link puts the old bytes back into the target, not over the link", async () => {
  const w = await linked();
  try {
    const before = await w.state();
    // index.json is the commit's last write: its rename fails once the .env's target has its new bytes.
    const rename = fs.rename;
    let envWritten = false;
    fs.rename = async (from, to) => {
      if (String(to) === w.target) envWritten = true;
      if (path.basename(String(to)) === "index.json") throw Object.assign(new Error("ENOSPC: no space left on device, rename"), { code: "ENOSPC", syscall: "rename" });
      return rename(from, to);
    };
    try {
      await assert.rejects(set.run(setArgs(["A=2"]), w.ctx), fails(ExitCode.fileSystem));
    } finally {
      fs.rename = rename;
    }
    assert.ok(envWritten, "the .env's target was replaced before the failure");
    const after = await w.state();
    assert.deepEqual(after, before, "the target holds its old bytes, nothing left beside it");
    assert.deepEqual((await history(w.ctx.paths, "liam")).generations.map((x) => x.reason), ["add"]);
  } finally {
    await w.cleanup();
  }
});

test("a symlinked .env that leads nowhere: every verb names the link and its target, and nothing is written", async () => {
  const w = await linked();
  try {
    await fs.rm(w.target);
    const gens = await fs.readdir(generationsDir(w.ctx.paths, "liam"));
    const rows = (await list.run(g, w.ctx)).data as { name: string }[];
    assert.deepEqual(rows.map((r) => r.name), ["liam"], "still listed: its unit is there, and fails to start");
    await assert.rejects(set.run(setArgs(["A=2"]), w.ctx), fails(ExitCode.badFile, /\.env: is a symlink to \.\..*liam\.env that leads to no file/, /create the file it leads to/));
    assert.ok((await fs.lstat(w.link)).isSymbolicLink());
    await assert.rejects(fs.stat(w.target), /ENOENT/);
    assert.deepEqual(await fs.readdir(generationsDir(w.ctx.paths, "liam")), gens);
    await assert.rejects(add.run({ ...g, name: "liam", start: false, wait: 5, env: [] }, w.ctx), fails(ExitCode.exists));
  } finally {
    await w.cleanup();
  }
});

test("remove of a symlinked .env deletes the link, never the file it points to; one leading nowhere needs --purge", async () => {
  const w = await linked();
  try {
    const before = await w.state();
    await remove.run({ ...g, name: "liam", purge: false }, w.ctx);
    await assert.rejects(fs.lstat(w.link), /ENOENT/);
    assert.deepEqual(await w.dotfilesNow(), before, "the dotfile is untouched");

    await add.run({ ...g, name: "mia", start: false, wait: 5, env: [] }, w.ctx);
    const link = envFile(w.ctx.paths, "mia");
    await fs.rm(link);
    await fs.symlink(path.join(w.dotfiles, "gone.env"), link);
    await assert.rejects(remove.run({ ...g, name: "mia", purge: false }, w.ctx), fails(ExitCode.badFile, /gone\.env that leads to no file/));
    assert.ok((await fs.lstat(link)).isSymbolicLink(), "nothing removed");
    await remove.run({ ...g, name: "mia", purge: true }, w.ctx);
    await assert.rejects(fs.lstat(link), /ENOENT/);
  } finally {
    await w.cleanup();
  }
});

test("a symlinked .env pointing at a file the tool keeps (another profile's .env, a generation) is refused, nothing changed", async () => {
  const w = await linked();
  try {
    await add.run({ ...g, name: "mia", start: false, wait: 5, env: ["B=1"] }, w.ctx);
    const link = envFile(w.ctx.paths, "mia");
    for (const target of [envFile(w.ctx.paths, "liam"), generationFile(w.ctx.paths, "liam", 1)]) {
      await fs.rm(link);
      await fs.symlink(target, link);
      const before = await snapshot(w.home);
      await assert.rejects(
        set.run({ ...setArgs(["B=2"]), name: "mia" }, w.ctx),
        fails(ExitCode.badFile, /mia\/\.env: is a symlink to .*(, the \.env of profile "liam"|, a file agent-profiles keeps itself): a change through it would change that file too/, /install -m 600 /),
      );
      assert.deepEqual(await snapshot(w.home), before, target);
    }
    assert.deepEqual(await corruptGenerations(w.ctx.paths, "liam"), []);
  } finally {
    await w.cleanup();
  }
});

test("a write the link's target refuses names the file and the link: read-only (home-manager's store) with the install that keeps its content, a full disk with its own fix", async () => {
  const w = await linked();
  try {
    const before = await w.state();
    const open = fs.open;
    for (const [code, words, hint] of [
      ["EROFS", "the file system is read-only", new RegExp(`^change it where it comes from .*\`install -m 600 ${w.target} ${w.link}\`$`)],
      ["ENOSPC", "no space left on the device", /^free space on the file system that holds /],
    ] as const) {
      fs.open = (async (file: Parameters<typeof fs.open>[0], ...rest: unknown[]) => {
        if (String(file).startsWith(w.dotfiles + path.sep)) throw Object.assign(new Error(`${code}: open`), { code, syscall: "open" });
        return (open as (...a: unknown[]) => unknown)(file, ...rest);
      }) as typeof fs.open;
      try {
        await assert.rejects(
          set.run(setArgs(["A=2"]), w.ctx),
          fails(ExitCode.fileSystem, new RegExp(`cannot write ${w.target} \\(which the symlink ${w.link} points to\\): ${words} \\(${code}\\)`), hint),
        );
      } finally {
        fs.open = open;
      }
      assert.deepEqual(await w.state(), before, code);
    }
    assert.deepEqual((await history(w.ctx.paths, "liam")).generations.map((x) => x.reason), ["add"]);
  } finally {
    await w.cleanup();
  }
});

test("a link to a file of the user's own in the tool's config directory (not profiles/) is written through", async () => {
  const w = await linked();
  try {
    const own = path.join(w.ctx.paths.appConfigDir, "secrets", "liam.env");
    await fs.mkdir(path.dirname(own));
    await fs.copyFile(w.target, own);
    await fs.rm(w.link);
    await fs.symlink(own, w.link);
    await set.run(setArgs(["A=2"]), w.ctx);
    assert.match(await fs.readFile(own, "utf8"), /^A="?2"?$/m);
    assert.ok((await fs.lstat(w.link)).isSymbolicLink());
  } finally {
    await w.cleanup();
  }
});

test("a symlinked .env that leads nowhere or loops: env, diff, history and rollback exit 12 naming it, none a stack trace", async () => {
  const w = await linked();
  try {
    for (const [how, to, says] of [["nowhere", "../../../dotfiles/gone.env", /that leads to no file/], ["a loop", ".env", /that loops back on itself/]] as const) {
      await fs.rm(w.link);
      await fs.symlink(to, w.link);
      const before = await snapshot(w.home);
      for (const [verb, run] of [
        ["env", () => env.run({ ...g, name: "liam", showSecrets: false }, w.ctx)],
        ["diff", () => diff.run({ ...g, name: "liam" }, w.ctx)],
        ["history", () => historyVerb.run({ ...g, name: "liam" }, w.ctx)],
        ["rollback", () => rollback.run({ ...g, name: "liam", restart: false, wait: 5 }, w.ctx)],
      ] as const) {
        await assert.rejects(run(), fails(ExitCode.badFile, says), `${verb}, ${how}`);
      }
      assert.deepEqual(await snapshot(w.home), before, how);
    }
  } finally {
    await w.cleanup();
  }
});

test("top sees a set (no restart) on a symlinked .env at once: its watch is on the directory the file is replaced in", async () => {
  const w = await linked();
  try {
    const started = parseEnv(await fs.readFile(w.target, "utf8")).entries;
    w.owners.procs.environOf = () => new Map(started);
    let onChange = (): void => undefined;
    const feed = new TopFeed(w.ctx, await w.ctx.config(), { intervalMs: 3_600_000, probeEveryMs: 3_600_000, pendingEveryMs: 3_600_000 }, () => onChange(), (err) => assert.fail(String(err)));
    await feed.start(true);
    try {
      assert.equal(feed.rows()[0]!.pendingRestart, false);
      const pending = new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error("the set was not seen within 5 s")), 5_000);
        onChange = () => {
          if (feed.rows()[0]!.pendingRestart !== true) return;
          clearTimeout(deadline);
          resolve();
        };
      });
      await set.run({ ...setArgs(["A=2"]), restart: false }, w.ctx);
      await pending;
      // The link pointed at another copy, which holds what the gateway started with (as stow restows): seen too.
      const until = (want: boolean, what: string) =>
        new Promise<void>((resolve, reject) => {
          const deadline = setTimeout(() => reject(new Error(`${what}: not seen within 5 s`)), 5_000);
          onChange = () => {
            if (feed.rows()[0]!.pendingRestart !== want) return;
            clearTimeout(deadline);
            resolve();
          };
        });
      const elsewhere = path.join(w.home, "dotfiles2", "liam.env");
      await fs.mkdir(path.dirname(elsewhere));
      await fs.writeFile(elsewhere, serializeEnv(started, "x"), { mode: 0o600 });
      const repointed = until(false, "the link pointed elsewhere");
      await fs.rm(w.link);
      await fs.symlink(elsewhere, w.link);
      await repointed;
      // And a set there is seen in the new directory.
      const again = until(true, "a set through the new link");
      await set.run({ ...setArgs(["A=3"]), restart: false }, w.ctx);
      await again;
    } finally {
      feed.stop();
    }
  } finally {
    await w.cleanup();
  }
});

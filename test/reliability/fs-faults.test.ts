/**
 * A full disk, a read-only file system and permission problems under the config and the state directory,
 * before `set`, `add`, `rollback` and `limits`: each exits 15 naming the path, the errno in words and the
 * fix, with no stack trace, and leaves every file as it was (the `.env`, index.json, the generations, the
 * limits, the drop-in), no temp file and no lock; every generation index.json lists holds its bytes. A
 * state directory left with a few free pages makes a commit fail at each of its steps in turn (lock,
 * generation file, index.json after the `.env` was replaced) until it has room and succeeds.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { type ExecResult, type Sandbox, userPaths } from "../helpers/sandbox.js";
import { limitsDropIn } from "../../src/store/limits.js";
import { corruptGenerations, generationsDir } from "../../src/store/generations.js";
import type { Paths } from "../../src/paths.js";
import { checkEnvFiles, hashTree, initialisedSandbox } from "./util.js";

// Ports of this file only.
const RANGE = "19950-19959";
const run = promisify(execFile);

let sb: Sandbox;
let paths: Paths;
const mounted: string[] = [];
const figures = {
  enospcConfig: 0,
  enospcState: 0,
  enospcStatePartial: 0,
  erofsConfig: 0,
  erofsState: 0,
  permissionDenied: 0,
  immutableIndex: 0,
  exit15: 0,
  /** Where the partly full state directory stopped a commit: the lock, a generation file, index.json (after the `.env` was replaced). */
  partialStoppedAt: { lock: 0, generationFile: 0, index: 0, other: 0 },
  succeededOnceRoomWasLeft: 0,
  commandsRun: 0,
  stackTraces: 0,
  treesChanged: 0,
  phantomGenerations: 0,
  tempFilesLeft: 0,
};
type Fault = "enospcConfig" | "enospcState" | "enospcStatePartial" | "erofsConfig" | "erofsState" | "permissionDenied" | "immutableIndex";

before(async () => {
  // Without the sandbox's own journald, whose mount namespace the CLI would then run in: the faults are
  // mounts made on the host, which a private namespace made before them does not see.
  sb = await initialisedSandbox(RANGE, ["f1"], { journal: false });
  paths = userPaths(sb);
  // f1: generation 1 known-good (add), 2 (set A), limits of its own; a rollback has somewhere to go.
  for (const args of [["set", "f1", "A=1"], ["limits", "f1", "--tasks-max", "64"]]) {
    const r = await sb.profiles(args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  console.log(`# reliability figures (file system faults): ${JSON.stringify(figures)}`);
  for (const dir of mounted.reverse()) await run("umount", ["-l", dir]).catch(() => {});
  await sb?.stop();
});

/** The config and state directories on small tmpfs mounts of their own, holding what they held. */
async function onTmpfs(): Promise<void> {
  if (mounted.length > 0) return;
  for (const dir of [paths.appConfigDir, paths.stateDir]) {
    const copy = await fs.mkdtemp("/tmp/ap-fs-faults-");
    await run("cp", ["-a", `${dir}/.`, copy]);
    await run("mount", ["-t", "tmpfs", "-o", `size=1m,mode=0700,uid=${sb.uid},gid=${sb.gid}`, "tmpfs", dir]);
    mounted.push(dir);
    await run("cp", ["-a", `${copy}/.`, dir]);
    await fs.rm(copy, { recursive: true, force: true });
  }
}

const FILLER = ".filler";

/** Fill the file system of `dir` (root's file, so the user cannot free it), then free about `leavePages` pages. */
async function fill(dir: string, leavePages = 0): Promise<void> {
  const fh = await fs.open(path.join(dir, FILLER), "w", 0o600);
  try {
    for (const size of [1 << 16, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        const wrote = await fh.write(chunk).then((r) => r.bytesWritten, (err: NodeJS.ErrnoException) => (err.code === "ENOSPC" ? 0 : Promise.reject(err)));
        if (wrote < size) break;
      }
    }
    if (leavePages > 0) await fh.truncate(Math.max(0, (await fh.stat()).size - leavePages * 4096));
  } finally {
    await fh.close();
  }
}

async function unfill(dir: string): Promise<void> {
  await fs.rm(path.join(dir, FILLER), { force: true });
}

/** Every file of ours, as bytes and modes: config, state, and the unit directory (drop-ins). */
async function trees(): Promise<string[]> {
  return Promise.all([paths.appConfigDir, paths.stateDir, paths.unitDir].map(hashTree));
}

/** Every generation index.json lists holds its bytes, every `.env` is one of them, no temp file or lock is left. */
async function consistent(label: string): Promise<void> {
  for (const name of await fs.readdir(paths.profilesDir)) {
    const corrupt = await corruptGenerations(paths, name);
    figures.phantomGenerations += corrupt.length;
    assert.deepEqual(corrupt, [], `${label}: ${name} has generations whose bytes are not there`);
  }
  for (const c of await checkEnvFiles(paths)) assert.deepEqual(c.problems, [], `${label}: ${c.name}`);
  const left: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.tmp$|\.lock$|\.break\./.test(e.name)) left.push(p);
    }
  };
  for (const dir of [paths.appConfigDir, paths.stateDir, paths.unitDir]) await walk(dir);
  figures.tempFilesLeft += left.length;
  assert.deepEqual(left, [], `${label}: temp or lock files left`);
}

const FIXES: Record<string, RegExp> = {
  ENOSPC: /no space left on the device \(ENOSPC\)[\s\S]*next: free space on the file system that holds \S+ \(`df -h /,
  EROFS: /the file system is read-only \(EROFS\)[\s\S]*next: remount it read-write/,
  // Which of the two depends on the step: creating a file in the directory, or chmod of the directory itself.
  PERM: /(permission denied \(EACCES\)|operation not permitted \(EPERM\))[\s\S]*next: run profiles as the user who owns/,
};

function checkRefusal(label: string, r: ExecResult, under: string, errno: string): void {
  if (/internal error|^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) figures.stackTraces++;
  assert.doesNotMatch(r.stderr, /internal error|^\s+at .+:\d+:\d+\)?$/m, `${label}: a stack trace`);
  assert.equal(r.code, 15, `${label}: exit ${r.code}, want 15\n${r.stdout}\n${r.stderr}`);
  figures.exit15++;
  assert.match(r.stderr, new RegExp(`^profiles: cannot [a-z ]+ ${under.replace(/[.]/g, "\\.")}/\\S*: `, "m"), `${label}: names no path under ${under}\n${r.stderr}`);
  assert.match(r.stderr, FIXES[errno]!, `${label}: errno or fix\n${r.stderr}`);
}

/** Run `args` (text, then --json) under a fault; both exit 15 and change nothing. */
async function faulted(fault: Fault, args: string[], under: string, errno: string): Promise<void> {
  const label = `${fault}: profiles ${args.join(" ")}`;
  const was = await trees();
  const r = await sb.profiles(args, { timeoutMs: 90_000 });
  figures.commandsRun++;
  figures[fault]++;
  checkRefusal(label, r, under, errno);
  const j = await sb.profiles([...args, "--json"], { timeoutMs: 90_000 });
  figures.commandsRun++;
  assert.equal(j.code, 15, `${label} --json: exit ${j.code}\n${j.stderr}`);
  const body = JSON.parse(j.stdout) as { error: { code: number; type: string; message: string } };
  assert.equal(body.error.code, 15);
  assert.equal(body.error.type, "FileSystemError");
  assert.ok(body.error.message.includes(under), body.error.message);
  const now = await trees();
  if (now.join() !== was.join()) figures.treesChanged++;
  assert.deepEqual(now, was, `${label}: a file changed`);
  await consistent(label);
}

/** What each verb is asked, on f1 and a profile that does not exist yet. */
function verbs(): string[][] {
  return [
    ["set", "f1", `B=${figures.commandsRun}`],
    ["add", "f9"],
    ["rollback", "f1", "--to", "2"],
    ["limits", "f1", "--memory-max", "512M"],
  ];
}

test("permission problems: a directory or index.json the user may not change", async () => {
  const profile = path.join(paths.profilesDir, "f1");
  const gens = generationsDir(paths, "f1");
  // Someone ran `sudo profiles`: a directory now belongs to root (0755, so the user still reads it).
  for (const [dir, cases] of [
    [profile, [["set", "f1", "B=1"], ["rollback", "f1", "--to", "2"], ["limits", "f1", "--memory-max", "512M"]]],
    [gens, [["set", "f1", "B=1"], ["rollback", "f1", "--to", "1", "--no-restart"], ["limits", "f1", "--memory-max", "512M"]]],
    [paths.profilesDir, [["add", "f9"]]],
    [paths.locksDir, [["set", "f1", "B=1"], ["add", "f9"]]],
  ] as const) {
    const mode = ((await fs.stat(dir)).mode & 0o7777).toString(8);
    await run("chown", ["root:root", dir]);
    await run("chmod", ["0755", dir]);
    try {
      for (const args of cases) await faulted("permissionDenied", [...args], path.dirname(dir), "PERM");
    } finally {
      await run("chown", [`${sb.uid}:${sb.gid}`, dir]);
      await run("chmod", [mode, dir]);
    }
  }
  // An immutable index.json: the generation file and the .env are written, then its rename is refused.
  const index = path.join(gens, "index.json");
  await run("chattr", ["+i", index]);
  try {
    for (const args of [["set", "f1", "B=1"], ["rollback", "f1", "--to", "1", "--no-restart"], ["limits", "f1", "--memory-max", "512M"]]) {
      await faulted("immutableIndex", args, gens, "PERM");
    }
  } finally {
    await run("chattr", ["-i", index]);
  }
});

test("disk full: the config directory, then the state directory", async () => {
  await onTmpfs();
  for (const [dir, fault] of [[paths.appConfigDir, "enospcConfig"], [paths.stateDir, "enospcState"]] as const) {
    await fill(dir);
    try {
      for (const args of verbs()) await faulted(fault, args, dir, "ENOSPC");
    } finally {
      await unfill(dir);
    }
  }
});

test("a state directory with a few pages left: each step of a commit fails in turn, then it succeeds", async () => {
  await onTmpfs();
  const cases = (n: number): string[][] => [["set", "f1", `C=${n}`], ["rollback", "f1", "--to", "1", "--no-restart"], ["limits", "f1", "--tasks-max", String(100 + n)], ["add", `p${n}`, "--no-start"]];
  for (let c = 0; c < 4; c++) {
    let done = false;
    for (let pages = 0; pages <= 12 && !done; pages++) {
      const args = cases(pages)[c]!;
      const label = `${pages} page(s) left: profiles ${args.join(" ")}`;
      await fill(paths.stateDir, pages);
      try {
        const was = await trees();
        const r = await sb.profiles(args, { timeoutMs: 90_000 });
        figures.commandsRun++;
        if (r.code === 0) {
          figures.succeededOnceRoomWasLeft++;
          done = true;
        } else {
          figures.enospcStatePartial++;
          checkRefusal(label, r, paths.stateDir, "ENOSPC");
          const named = /^profiles: cannot [a-z ]+ (\S+): /m.exec(r.stderr)?.[1] ?? "";
          const step = /\/locks\//.test(named) ? "lock" : /\/\d+\.env$/.test(named) ? "generationFile" : /index\.json$/.test(named) ? "index" : "other";
          figures.partialStoppedAt[step]++;
          assert.deepEqual(await trees(), was, `${label}: a file changed`);
        }
        await consistent(label);
      } finally {
        await unfill(paths.stateDir);
      }
    }
    assert.ok(done, `profiles ${cases(0)[c]!.join(" ")} never succeeded with 12 pages left`);
  }
});

test("read-only: the config directory, then the state directory", async () => {
  await onTmpfs();
  for (const [dir, fault] of [[paths.appConfigDir, "erofsConfig"], [paths.stateDir, "erofsState"]] as const) {
    await run("mount", ["-o", "remount,ro", dir]);
    try {
      for (const args of verbs()) await faulted(fault, args, dir, "EROFS");
    } finally {
      await run("mount", ["-o", "remount,rw", dir]);
    }
  }
});

test("the faults injected, and what they left", async (t) => {
  t.diagnostic(`faults: ${JSON.stringify(figures)}`);
  assert.equal(figures.stackTraces, 0);
  assert.equal(figures.treesChanged, 0);
  assert.equal(figures.phantomGenerations, 0);
  assert.equal(figures.tempFilesLeft, 0);
  for (const step of ["lock", "generationFile", "index"] as const) assert.ok(figures.partialStoppedAt[step] > 0, `no commit stopped at its ${step}`);
  // The drop-in of f1 still says what its newest generation records.
  const dropIn = await fs.readFile(limitsDropIn(paths, "f1"), "utf8").catch(() => "");
  assert.match(dropIn, /TasksMax=/);
});

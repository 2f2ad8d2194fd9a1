import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { type Sandbox, startSandbox, userPaths } from "../helpers/sandbox.js";

// Ports of this file only.
const RANGE = "19700-19749";

let sb: Sandbox;
// A second local user, made for this file and removed after it.
const other = `aprl${randomBytes(4).toString("hex")}`;
let otherIds: { uid: number; gid: number } | null = null;
const figures = { valueFiles: 0, dirsChecked: 0, readsDenied: 0, listingsDenied: 0 };

before(async () => {
  sb = await startSandbox();
  const add = spawnSync("useradd", ["-M", "-s", "/usr/sbin/nologin", other], { encoding: "utf8" });
  assert.equal(add.status, 0, `useradd ${other}: ${add.stderr}`);
  const id = (flag: string): number => Number(spawnSync("id", [flag, other], { encoding: "utf8" }).stdout.trim());
  otherIds = { uid: id("-u"), gid: id("-g") };
});
after(async () => {
  console.log(`# reliability figures (file modes): ${JSON.stringify(figures)}`);
  if (otherIds) spawnSync("userdel", [other], { encoding: "utf8" });
  await sb?.stop();
});

async function run(args: string[]): Promise<void> {
  const r = await sb.profiles(args, { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `profiles ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
}

/** Every file that holds environment values: .env files, their generations, removed copies, roll.json. */
async function valueFiles(): Promise<string[]> {
  const p = userPaths(sb);
  const out: string[] = [];
  for (const n of await fs.readdir(p.profilesDir)) out.push(path.join(p.profilesDir, n, ".env"));
  const gens = path.join(p.stateDir, "generations");
  for (const n of await fs.readdir(gens)) {
    for (const f of await fs.readdir(path.join(gens, n))) if (f.endsWith(".env")) out.push(path.join(gens, n, f));
  }
  // Removed profiles: NAME.TIME.env, and their generations kept beside it in NAME.TIME.generations/.
  for (const e of await fs.readdir(p.removedDir, { withFileTypes: true })) {
    const abs = path.join(p.removedDir, e.name);
    if (e.isDirectory()) {
      for (const f of await fs.readdir(abs)) if (f.endsWith(".env")) out.push(path.join(abs, f));
    } else out.push(abs);
  }
  out.push(path.join(p.stateDir, "roll.json"));
  return out;
}

function asOther(cmd: string, args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync("setpriv", [`--reuid=${otherIds!.uid}`, `--regid=${otherIds!.gid}`, "--clear-groups", cmd, ...args], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

test("files with environment values are 0600 in 0700 directories, and another user cannot read them", async () => {
  await run(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"]);
  await run(["add", "f1", "--env", "API_KEY=file-mode-secret-1"]);
  await run(["add", "f2", "--env", "GH_TOKEN=file-mode-secret-2"]);
  await run(["add", "f3", "--no-start"]);
  await run(["set", "f1", "RL_A=1", "GH_TOKEN=t2"]);
  await run(["unset", "f1", "RL_A"]);
  await run(["roll", "--min-healthy-time", "0"]);
  await run(["rollback", "f1", "--to", "1"]);
  await run(["remove", "f3"]);

  // Worst case for the modes themselves: a home and XDG dirs anyone may enter, as on many systems.
  const opened = [sb.home, path.join(sb.home, ".config"), path.join(sb.home, ".local"), path.join(sb.home, ".local/state")];
  const modes = await Promise.all(opened.map(async (d) => (await fs.stat(d)).mode & 0o7777));
  try {
    for (const d of opened) await fs.chmod(d, 0o755);
    const files = await valueFiles();
    assert.ok(files.length >= 8, `only ${files.length} files: ${files.join(", ")}`);
    const dirs = new Set<string>();
    for (const f of files) {
      const st = await fs.stat(f);
      assert.equal((st.mode & 0o777).toString(8), "600", `${f} mode`);
      assert.equal(st.uid, sb.uid, `${f} owner`);
      dirs.add(path.dirname(f));
      figures.valueFiles++;
      const r = asOther("cat", [f]);
      assert.notEqual(r.status, 0, `${other} could read ${f}`);
      assert.match(r.stderr, /Permission denied/, f);
      figures.readsDenied++;
    }
    for (const d of dirs) {
      const st = await fs.stat(d);
      assert.equal((st.mode & 0o777).toString(8), "700", `${d} mode`);
      figures.dirsChecked++;
      const r = asOther("ls", [d]);
      assert.notEqual(r.status, 0, `${other} could list ${d}`);
      assert.match(r.stderr, /Permission denied/, d);
      figures.listingsDenied++;
    }
  } finally {
    for (const [i, d] of opened.entries()) await fs.chmod(d, modes[i]!);
  }
});

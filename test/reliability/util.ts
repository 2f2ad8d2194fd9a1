/**
 * Shared pieces of the reliability suite (`npm run test:reliability`): a seeded PRNG so that a failing
 * random run can be replayed, a sandbox set up with `init` and profiles, the CLI spawned directly under `setpriv` (so that the
 * child's PID is node itself and a SIGKILL hits it), a hash of a directory tree for nothing-changed checks,
 * and /proc readings for the soak.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { constants } from "node:os";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type ExecResult, type Sandbox } from "../helpers/sandbox.js";
import { resolvePaths, type Paths } from "../../src/paths.js";

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a file's random choices: AP_SEED when set (to replay a failure), else a fresh one. */
export function seed(label: string): number {
  const given = process.env.AP_SEED;
  const s = given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  console.log(`# ${label}: seed ${s} (replay with AP_SEED=${s} npm run test:reliability)`);
  return s;
}

/**
 * A private user manager with `profiles init` done (the file's own port range, output to log files, no
 * sweep timer) and `names` added, each healthy. A sandbox whose set-up fails is stopped again.
 */
export async function initialisedSandbox(range: string, names: readonly string[] = []): Promise<Sandbox> {
  const sb = await startSandbox();
  try {
    const init = await sb.profiles(["init", "--range", range, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"], { timeoutMs: 60_000 });
    assert.equal(init.code, 0, init.stderr);
    for (const n of names) {
      const r = await sb.profiles(["add", n], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
    }
    return sb;
  } catch (err) {
    await sb.stop();
    throw err;
  }
}

/** A CLI run started as the sandbox user; `pid` is node's own PID once setpriv and env have exec'd. */
export interface Spawned {
  pid: number;
  done: Promise<ExecResult>;
}

/** The CLI as the user, without the user-manager.sh wrapper: setpriv and env exec, so the PID ends up node's. */
export function spawnCli(sb: Sandbox, args: string[], env: Record<string, string> = {}): Spawned {
  const vars = Object.entries({ ...sb.env, ...env }).map(([k, v]) => `${k}=${v}`);
  const cli = path.join(sb.appDir, "dist", "src", "cli.js");
  const child = spawn(
    "setpriv",
    [`--reuid=${sb.uid}`, `--regid=${sb.gid}`, "--init-groups", "env", "-i", ...vars, "node", cli, ...args],
    { cwd: sb.home, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const done = new Promise<ExecResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ code: code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1), stdout, stderr });
    });
  });
  if (child.pid === undefined) throw new Error("spawn setpriv gave no pid");
  return { pid: child.pid, done };
}

/** Resolves once `/proc/PID/exe` is node (the exec chain finished); false if the process ended first. */
export async function waitUntilNode(pid: number, deadlineMs = 5000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const exe = await fs.readlink(`/proc/${pid}/exe`).catch(() => null);
    if (exe === null) return false;
    if (path.basename(exe).startsWith("node")) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

/** The user's tool paths (config, state), as the CLI resolves them from the sandbox's HOME. */
export function userPaths(sb: Sandbox): Paths {
  return resolvePaths({ HOME: sb.home });
}

/**
 * sha256 over every entry under `dir`: relative path, type, mode, owner, and a file's bytes or a link's
 * target. Nothing is excluded; a missing dir hashes as such.
 */
export async function hashTree(dir: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(dir, rel);
    const st = await fs.lstat(abs).catch(() => null);
    if (!st) {
      h.update(`${rel}\0missing\n`);
      return;
    }
    h.update(`${rel}\0${st.mode.toString(8)}\0${st.uid}:${st.gid}\0`);
    if (st.isDirectory()) {
      for (const e of (await fs.readdir(abs)).sort()) await walk(path.join(rel, e));
    } else if (st.isSymbolicLink()) {
      h.update(await fs.readlink(abs));
    } else if (st.isFile()) {
      h.update(await fs.readFile(abs));
    }
    h.update("\n");
  };
  await walk(".");
  return h.digest("hex");
}

/** Open fds and resident memory of a process from /proc; null when it is gone. */
export async function procStats(pid: number): Promise<{ fds: number; rssKiB: number } | null> {
  try {
    const fds = (await fs.readdir(`/proc/${pid}/fd`)).length;
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return { fds, rssKiB: m ? Number(m[1]) : 0 };
  } catch {
    return null;
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Polls `check` until it returns true or the deadline passes; returns the last answer. */
export async function pollUntil(check: () => Promise<boolean>, deadlineMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** GET /health of a port: its status, or 0 when nothing answers. */
export async function healthStatus(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** What `checkEnvFiles` found for one profile. */
export interface EnvCheck {
  name: string;
  /** The generation the `.env` equals (null: none, i.e. a torn or foreign file). */
  current: number | null;
  problems: string[];
}

/**
 * Every profile's `.env` parses with no problems and equals, byte for byte, one of its kept generations.
 * Reads the user's files as root through the store's own functions.
 */
export async function checkEnvFiles(paths: Paths): Promise<EnvCheck[]> {
  const { parseEnv } = await import("../../src/store/envfile.js");
  const { decodeBytes, encodeText } = await import("../../src/store/bytes.js");
  const { history, readGeneration } = await import("../../src/store/generations.js");
  const names = (await fs.readdir(paths.profilesDir).catch(() => [] as string[])).sort();
  const out: EnvCheck[] = [];
  for (const name of names) {
    const problems: string[] = [];
    // As bytes: a value that is not UTF-8 must compare as itself.
    const bytes = await fs.readFile(path.join(paths.profilesDir, name, ".env")).catch(() => null);
    const text = bytes === null ? null : decodeBytes(bytes);
    if (text === null || bytes === null) {
      out.push({ name, current: null, problems: ["no .env"] });
      continue;
    }
    for (const p of parseEnv(text).problems) problems.push(`parse: ${JSON.stringify(p)}`);
    const h = await history(paths, name);
    if (h.current === null) problems.push(`.env (sha ${h.fileSha256}) equals none of generations ${h.generations.map((g) => g.number).join(",")}`);
    else {
      // A generation file that lost its bytes is refused by the verified read: a problem here, not a crash.
      const kept = await readGeneration(paths, name, h.current).catch((err: Error) => err);
      if (kept instanceof Error) problems.push(`generation ${h.current}: ${kept.message}`);
      else if (!encodeText(kept).equals(bytes)) problems.push(`.env differs from generation ${h.current} although the sha matches`);
    }
    out.push({ name, current: h.current, problems });
  }
  return out;
}

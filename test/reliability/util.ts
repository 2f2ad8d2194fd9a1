/**
 * Pieces of the reliability suite (`npm run test:reliability`) only it uses: a seeded PRNG so that a
 * failing random run can be replayed, a sandbox set up with `init` and profiles, a hash of a directory
 * tree for nothing-changed checks, and the check that every `.env` is a kept generation. The sandbox
 * itself, /proc readings and medians are the shared helpers in test/helpers/.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import type { Paths } from "../../src/paths.js";

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
export async function initialisedSandbox(range: string, names: readonly string[] = [], opts: { journal?: boolean } = {}): Promise<Sandbox> {
  const sb = await startSandbox(opts);
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

/** Whether `bytes` (a `.env`) are those of a generation file a commit left past index.json's `next` (see generation-commit.ts). */
async function interruptedCommit(paths: Paths, name: string, bytes: Buffer): Promise<boolean> {
  const dir = path.join(paths.stateDir, "generations", name);
  const next = (JSON.parse(await fs.readFile(path.join(dir, "index.json"), "utf8").catch(() => '{"next":1}')) as { next: number }).next;
  for (const n of [next, next + 1]) {
    const file = await fs.readFile(path.join(dir, `${n}.env`)).catch(() => null);
    if (file?.equals(bytes)) return true;
  }
  return false;
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
    if (h.current === null) {
      // A commit killed between the .env and index.json leaves the .env's bytes in the generation file
      // just past index.json's `next`, which the next change adopts: nothing is lost.
      if (!(await interruptedCommit(paths, name, bytes))) problems.push(`.env (sha ${h.fileSha256}) equals none of generations ${h.generations.map((g) => g.number).join(",")}`);
    } else {
      // A generation file that lost its bytes is refused by the verified read: a problem here, not a crash.
      const kept = await readGeneration(paths, name, h.current).catch((err: Error) => err);
      if (kept instanceof Error) problems.push(`generation ${h.current}: ${kept.message}`);
      else if (!encodeText(kept).equals(bytes)) problems.push(`.env differs from generation ${h.current} although the sha matches`);
    }
    out.push({ name, current: h.current, problems });
  }
  return out;
}

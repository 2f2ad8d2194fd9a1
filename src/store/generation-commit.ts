import fs from "node:fs/promises";
import { BadFileError } from "../errors.js";
import { envFile, envOutside, profileDir, type Paths } from "../paths.js";
import { ensureDir, ensureParent, writeFileAtomic } from "./atomic.js";
import { assertOwnLinkTarget } from "./symlinks.js";
import { decodeBytes } from "./bytes.js";
import { parseEnv } from "./envfile.js";
import { changedKeys, generationFile, generationsDir, indexFile, indexText, newestIntact, readBytes, readBytesOrNull, saveIndex, sha256, type Generation, type Index } from "./generation-files.js";
import { readLimits } from "./limits.js";

/**
 * How a generation is recorded, and a `.env` replaced with it.
 *
 * Files are bytes: text here is what `decodeBytes` (bytes.ts) makes of them, and every sha256 is over
 * the exact bytes, so a value that is not UTF-8 survives a change to another key.
 *
 * A commit goes: generation file written, fsync'd and read back against its sha256; then the `.env`
 * replaced atomically; then index.json. A failure at any step undoes the steps before it (the `.env`
 * gets its old bytes back, the new generation file goes), so index.json never lists a generation whose
 * bytes are not there, and nothing is pruned. A crash between the `.env` and the index leaves a `.env`
 * that no generation records and its generation file beyond `next`: the next commit adopts that file.
 */

/** A generation about to be recorded, with its bytes; `adopted` when its file is already on disk. */
export interface Pending {
  gen: Generation;
  bytes: Buffer;
  adopted: boolean;
}

/** The entry of a new generation numbered `number`, after `previous` (null: the first). */
export async function entryFor(paths: Paths, name: string, previous: { bytes: Buffer } | null, number: number, bytes: Buffer, reason: string, time = new Date()): Promise<Generation> {
  const before = previous ? parseEnv(decodeBytes(previous.bytes)).entries : new Map<string, string>();
  return {
    number,
    time: time.toISOString(),
    sha256: sha256(bytes),
    reason,
    changed: changedKeys(before, parseEnv(decodeBytes(bytes)).entries),
    knownGood: false,
    // A broken limits.json must not stop a .env change; that generation then records none.
    limits: await readLimits(paths, name).catch(() => ({})),
  };
}

/**
 * The generations to record before anything else, for a `.env` (`onDisk`) that none records: the files a
 * commit interrupted between the `.env` and index.json left beyond `next`, up to the one holding exactly
 * these bytes (adopted as they are), or else the file itself, kept as a hand edit.
 */
export async function unrecorded(paths: Paths, name: string, index: Index, onDisk: Buffer): Promise<Pending[]> {
  const sha = sha256(onDisk);
  const previous = index.generations.at(-1);
  let prevBytes = previous ? readBytes(generationFile(paths, name, previous.number)) : null;
  const orphans: { number: number; bytes: Buffer; mtime: Date }[] = [];
  // A commit stages at most two generations (a hand edit, then its own); only its last one can be the .env.
  for (let n = index.next; n < index.next + 2; n++) {
    const file = generationFile(paths, name, n);
    const bytes = readBytes(file);
    if (bytes === null) break;
    orphans.push({ number: n, bytes, mtime: (await fs.stat(file)).mtime });
    if (sha256(bytes) !== sha) continue;
    const pending: Pending[] = [];
    for (const o of orphans) {
      const reason = o.number === n ? "found on disk (its change stopped before history recorded it)" : "found on disk (edited by hand)";
      pending.push({ gen: await entryFor(paths, name, prevBytes ? { bytes: prevBytes } : null, o.number, o.bytes, reason, o.mtime), bytes: o.bytes, adopted: true });
      prevBytes = o.bytes;
    }
    return pending;
  }
  const reason = index.generations.length === 0 ? "found on disk (before history was kept)" : "found on disk (edited by hand)";
  return [{ gen: await entryFor(paths, name, prevBytes ? { bytes: prevBytes } : null, index.next, onDisk, reason), bytes: onDisk, adopted: false }];
}

/** `pending` appended to the index's generations (numbers and `next` follow). */
export function withPending(index: Index, pending: Pending[]): Index {
  const last = pending.at(-1);
  return { next: last ? last.gen.number + 1 : index.next, generations: [...index.generations, ...pending.map((p) => p.gen)] };
}

/** Write a generation's file, durably, and read it back: a file that does not hold the bytes is no generation. */
async function writeVerified(file: string, bytes: Buffer): Promise<void> {
  await writeFileAtomic(file, bytes, 0o600);
  const back = readBytes(file);
  if (back === null || !back.equals(bytes)) {
    await fs.rm(file, { force: true });
    throw new BadFileError(file, `did not hold the bytes just written to it (sha256 ${sha256(bytes).slice(0, 12)}… written, ${back === null ? "no file" : `${sha256(back).slice(0, 12)}…`} read back); nothing was changed`, "check the disk that holds it (`dmesg`, `smartctl`)");
  }
}

/** What a commit replaces the `.env` with, and what it held before (null: there was none). */
export interface EnvReplacement {
  bytes: Buffer;
  before: Buffer | null;
}

/**
 * Record `pending` (their files written and verified first), replace the `.env` with `env` when given,
 * then save `index` with them and pruned to `keep` (returned); only then delete what the prune dropped. Any failure
 * puts the `.env` back, removes the files it wrote and rethrows: index.json is untouched then.
 */
export async function commit(paths: Paths, name: string, index: Index, pending: Pending[], keep: number, env?: EnvReplacement): Promise<Index> {
  if (env) await assertOwnLinkTarget(paths, name);
  const written: string[] = [];
  // What an undo puts back besides the bytes: a .env made 0644 by hand stays so when the commit fails.
  const modeBefore = env?.before ? await fs.stat(envFile(paths, name)).then((st) => st.mode & 0o7777, () => 0o600) : 0o600;
  const next = withPending(index, pending);
  let saved: Index | null = null;
  try {
    if (pending.some((p) => !p.adopted)) await ensureDir(generationsDir(paths, name), 0o700);
    for (const p of pending.filter((x) => !x.adopted)) {
      const file = generationFile(paths, name, p.gen.number);
      written.push(file);
      await writeVerified(file, p.bytes);
    }
    if (env) {
      await ensureDir(profileDir(paths, name), 0o700);
      // An env-path's directory is the gateway's (it may hold more than the .env): made when missing, never chmod'ed.
      if (envOutside(paths)) await ensureParent(envFile(paths, name));
      await writeFileAtomic(envFile(paths, name), env.bytes, 0o600, { followSymlink: true });
    }
    const { kept, dropped } = await prunePlan(paths, name, next, keep);
    saved = { next: next.next, generations: kept };
    await saveIndex(paths, name, saved);
    // Only now: a commit that failed prunes nothing. A file left here is listed nowhere, so harmless.
    for (const g of dropped) await fs.rm(generationFile(paths, name, g.number), { force: true }).catch(() => {});
    return saved;
  } catch (err) {
    // An index.json renamed into place before the failure (its directory's fsync failed) records this
    // commit: undoing it then would leave the phantom this order exists to prevent.
    const recorded = saved !== null && readBytesOrNull(indexFile(paths, name))?.equals(Buffer.from(indexText(saved)));
    if (!recorded) await undo(paths, name, written, env ?? null, modeBefore);
    throw err;
  }
}

/** Put the `.env` back as it was and remove generation files written for a commit that failed; best effort. */
async function undo(paths: Paths, name: string, written: string[], env: EnvReplacement | null, mode: number): Promise<void> {
  const file = envFile(paths, name);
  // Only a .env this commit replaced (the failed write itself left it as it was): the old bytes back, or
  // for a .env that did not exist (add) none, with the directories made for it when they are empty.
  const now = env ? readBytesOrNull(file) : null;
  if (env && now !== null && !(env.before?.equals(now) ?? false)) {
    if (env.before) await writeFileAtomic(file, env.before, mode, { followSymlink: true }).catch(() => {});
    else await fs.rm(file, { force: true }).catch(() => {});
  }
  for (const file of written) await fs.rm(file, { force: true }).catch(() => {});
  if (env && !env.before) {
    await fs.rmdir(profileDir(paths, name)).catch(() => {});
    await fs.rmdir(generationsDir(paths, name)).catch(() => {});
  }
}

// Old generations go, but never the newest known-good one whose file is intact: it is what a failed
// roll reverts to (a corrupt one is never restored, so it protects nothing).
async function prunePlan(paths: Paths, name: string, index: Index, keep: number): Promise<{ kept: Generation[]; dropped: Generation[] }> {
  const newestGood = (await newestIntact(paths, name, index.generations.filter((g) => g.knownGood))).generation;
  const kept = index.generations.filter((g, i) => i >= index.generations.length - keep || g === newestGood);
  return { kept, dropped: index.generations.filter((g) => !kept.includes(g)) };
}


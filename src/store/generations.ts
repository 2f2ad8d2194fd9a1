import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { array, boolean, int, number, object, optional, positive, regex, string, type output } from "../schema.js";
import { BadFileError, UsageError, fileSystemFault } from "../errors.js";
import { envFile, profileDir, type Paths } from "../paths.js";
import { ensureDir, writeFileAtomic } from "./atomic.js";
import { decodeBytes, encodeText } from "./bytes.js";
import { parseEnv, type EnvEntries } from "./envfile.js";
import { readLimits, type Limits } from "./limits.js";

/**
 * Every version of a profile's `.env` that the tool wrote (or found edited by hand) is a numbered
 * generation under `<state>/generations/NAME/`: `N.env` holds its exact bytes, `index.json` its number,
 * time, sha256, what wrote it, the keys it changed and whether the profile was healthy with it.
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

/** One kept version of a `.env`. */
export interface Generation {
  number: number;
  time: string;
  sha256: string;
  /** What wrote it: `add`, `set LOG_LEVEL`, `rollback to 3`, `found on disk (edited by hand)`, ... */
  reason: string;
  /** Keys added, removed or changed against the generation before it. */
  changed: string[];
  /** The profile was healthy with exactly this file. */
  knownGood: boolean;
  /** The resource limits (`profiles limits`) in force when it was written; absent in generations older than limits. */
  limits?: Limits;
}

const generationSchema = object({
  number: number().check(int(), positive()),
  time: string(),
  sha256: string().check(regex(/^[0-9a-f]{64}$/)),
  reason: string(),
  changed: array(string()),
  knownGood: boolean(),
  limits: optional(object({ MemoryMax: optional(string()), CPUQuota: optional(string()), TasksMax: optional(string()), RestartSec: optional(string()) })),
});
const indexSchema = object({ next: number().check(int(), positive()), generations: array(generationSchema) });
type Index = output<typeof indexSchema>;

/** How many generations are kept unless the config says otherwise. */
export const DEFAULT_KEEP = 20;

/** sha256 of a file's bytes (text: of the bytes it was decoded from), hex. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(typeof data === "string" ? encodeText(data) : data).digest("hex");
}

/** The directory holding a profile's generations. */
export function generationsDir(paths: Paths, name: string): string {
  return path.join(paths.stateDir, "generations", name);
}

function indexFile(paths: Paths, name: string): string {
  return path.join(generationsDir(paths, name), "index.json");
}

/** The file holding generation `n`'s bytes. */
export function generationFile(paths: Paths, name: string, n: number): string {
  return path.join(generationsDir(paths, name), `${n}.env`);
}

async function loadIndex(paths: Paths, name: string): Promise<Index> {
  const file = indexFile(paths, name);
  let text: string;
  try {
    // Synchronous, as every small file the store reads (see readEnv in profiles.ts).
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { next: 1, generations: [] };
    throw fileSystemFault(err, file, "read") ?? err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BadFileError(file, "is not valid JSON", "move it away; the .env itself is untouched");
  }
  const parsed = indexSchema.safeParse(raw);
  if (!parsed.success) throw new BadFileError(file, `${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function indexText(index: Index): string {
  return JSON.stringify(index, null, 2) + "\n";
}

async function saveIndex(paths: Paths, name: string, index: Index): Promise<void> {
  await writeFileAtomic(indexFile(paths, name), indexText(index), 0o600);
}

/** Keys whose presence or value differs between two versions. */
export function changedKeys(before: EnvEntries, after: EnvEntries): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** A file's exact bytes, or null when there is none. */
function readBytes(file: string): Buffer | null {
  try {
    // Synchronous, as every small file the store reads (see readEnv in profiles.ts).
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw fileSystemFault(err, file, "read") ?? err;
  }
}

function readBytesOrNull(file: string): Buffer | null {
  try {
    return readBytes(file);
  } catch {
    return null;
  }
}

/** A generation about to be recorded, with its bytes; `adopted` when its file is already on disk. */
interface Pending {
  gen: Generation;
  bytes: Buffer;
  adopted: boolean;
}

/** The entry of a new generation numbered `number`, after `previous` (null: the first). */
async function entryFor(paths: Paths, name: string, previous: { bytes: Buffer } | null, number: number, bytes: Buffer, reason: string, time = new Date()): Promise<Generation> {
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
async function unrecorded(paths: Paths, name: string, index: Index, onDisk: Buffer): Promise<Pending[]> {
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
function withPending(index: Index, pending: Pending[]): Index {
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
interface EnvReplacement {
  bytes: Buffer;
  before: Buffer | null;
}

/**
 * Record `pending` (their files written and verified first), replace the `.env` with `env` when given,
 * then save `index` with them and pruned to `keep`; only then delete what the prune dropped. Any failure
 * puts the `.env` back, removes the files it wrote and rethrows: index.json is untouched then.
 */
async function commit(paths: Paths, name: string, index: Index, pending: Pending[], keep: number, env?: EnvReplacement): Promise<void> {
  const written: string[] = [];
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
      await writeFileAtomic(envFile(paths, name), env.bytes, 0o600);
    }
    const { kept, dropped } = await prunePlan(paths, name, next, keep);
    saved = { next: next.next, generations: kept };
    await saveIndex(paths, name, saved);
    // Only now: a commit that failed prunes nothing. A file left here is listed nowhere, so harmless.
    for (const g of dropped) await fs.rm(generationFile(paths, name, g.number), { force: true }).catch(() => {});
  } catch (err) {
    // An index.json renamed into place before the failure (its directory's fsync failed) records this
    // commit: undoing it then would leave the phantom this order exists to prevent.
    const recorded = saved !== null && readBytesOrNull(indexFile(paths, name))?.equals(Buffer.from(indexText(saved)));
    if (!recorded) await undo(paths, name, written, env ?? null);
    throw err;
  }
}

/** Put the `.env` back as it was and remove generation files written for a commit that failed; best effort. */
async function undo(paths: Paths, name: string, written: string[], env: EnvReplacement | null): Promise<void> {
  const file = envFile(paths, name);
  // Only a .env this commit replaced (the failed write itself left it as it was): the old bytes back, or
  // for a .env that did not exist (add) none, with the directories made for it when they are empty.
  const now = env ? readBytesOrNull(file) : null;
  if (env && now !== null && !(env.before?.equals(now) ?? false)) {
    if (env.before) await writeFileAtomic(file, env.before, 0o600).catch(() => {});
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

/** The generations of a profile, oldest first, and the number of the one the `.env` holds now (null: none). */
export async function history(paths: Paths, name: string): Promise<{ generations: Generation[]; current: number | null; fileSha256: string | null }> {
  const index = await loadIndex(paths, name);
  const bytes = readBytes(envFile(paths, name));
  const sha = bytes === null ? null : sha256(bytes);
  const current = index.generations.filter((g) => g.sha256 === sha).at(-1)?.number ?? null;
  return { generations: index.generations, current, fileSha256: sha };
}

/** A kept generation whose file does not hold the bytes its index entry records. */
export interface CorruptGeneration {
  number: number;
  file: string;
  /** The sha256 index.json records for it. */
  expected: string;
  /** The sha256 of the file's bytes now; null when the file is missing. */
  actual: string | null;
}

function corruptionProblem(c: CorruptGeneration): string {
  if (c.actual === null) return `is missing although index.json lists it (generation ${c.number})`;
  return `does not hold the bytes of generation ${c.number} (sha256 ${c.expected.slice(0, 12)}… expected, ${c.actual.slice(0, 12)}… found)`;
}

/** What is wrong with a corrupt generation, in one line naming its file. */
export function corruptionText(c: CorruptGeneration): string {
  return `${c.file} ${corruptionProblem(c)}`;
}

/**
 * The one read of a generation file that may be restored or trusted: its bytes, checked against the
 * sha256 index.json records, since a truncated or damaged file restored as it is would replace a good `.env`.
 */
function readVerified(paths: Paths, name: string, g: Generation): { text: string } | { corrupt: CorruptGeneration } {
  const file = generationFile(paths, name, g.number);
  const bytes = readBytes(file);
  if (bytes === null) return { corrupt: { number: g.number, file, expected: g.sha256, actual: null } };
  const actual = sha256(bytes);
  if (actual !== g.sha256) return { corrupt: { number: g.number, file, expected: g.sha256, actual } };
  return { text: decodeBytes(bytes) };
}

/** The error for restoring or showing a corrupt generation (exit 12): nothing has been changed. */
export function corruptGenerationError(name: string, c: CorruptGeneration): BadFileError {
  return new BadFileError(c.file, `${corruptionProblem(c)}: it is never restored`, `run \`profiles doctor\` for the fix, and \`profiles history ${name}\` for the intact generations`);
}

function keptGeneration(index: Index, name: string, n: number): Generation {
  const g = index.generations.find((x) => x.number === n);
  if (g) return g;
  const kept = index.generations.map((x) => x.number);
  throw new UsageError(`profile "${name}" has no generation ${n} (kept: ${kept.length > 0 ? kept.join(", ") : "none"})`, `run \`profiles history ${name}\``);
}

/** The exact bytes of a kept generation, verified; UsageError when it is not kept, BadFileError when corrupt. */
export async function readGeneration(paths: Paths, name: string, n: number): Promise<string> {
  const read = readVerified(paths, name, keptGeneration(await loadIndex(paths, name), name, n));
  if ("corrupt" in read) throw corruptGenerationError(name, read.corrupt);
  return read.text;
}

/** The newest of `candidates` (oldest first) whose file is intact, and the corrupt ones passed over, newest first. */
export async function newestIntact(paths: Paths, name: string, candidates: Generation[]): Promise<{ generation: Generation | null; skipped: CorruptGeneration[] }> {
  const skipped: CorruptGeneration[] = [];
  for (const g of [...candidates].reverse()) {
    const read = readVerified(paths, name, g);
    if ("text" in read) return { generation: g, skipped };
    skipped.push(read.corrupt);
  }
  return { generation: null, skipped };
}

/**
 * Drop corrupt generation `n` from the history, its file with it: its bytes are lost. An intact one is
 * refused (UsageError), so history is never edited otherwise. Callers hold the profile's lock.
 */
export async function forgetGeneration(paths: Paths, name: string, n: number): Promise<CorruptGeneration> {
  const index = await loadIndex(paths, name);
  const g = keptGeneration(index, name, n);
  const read = readVerified(paths, name, g);
  if ("text" in read) throw new UsageError(`generation ${n} of "${name}" is intact: only a corrupt generation can be forgotten`, `run \`profiles doctor\` to see the corrupt ones`);
  index.generations = index.generations.filter((x) => x !== g);
  await saveIndex(paths, name, index);
  await fs.rm(read.corrupt.file, { force: true });
  return read.corrupt;
}

/** Every generation of a profile whose file is missing or does not match its recorded sha256. */
export async function corruptGenerations(paths: Paths, name: string): Promise<CorruptGeneration[]> {
  const index = await loadIndex(paths, name);
  return index.generations.flatMap((g) => {
    const read = readVerified(paths, name, g);
    return "corrupt" in read ? [read.corrupt] : [];
  });
}

export interface CommitOptions {
  /** Generations to keep (the config's value). */
  keep?: number;
  /** Record a new generation even when the text equals the current one (a rollback is itself undoable). */
  always?: boolean;
}

/**
 * Make `text` the profile's `.env`, keeping generations: the file found on disk is kept first when no
 * generation holds it (edited by hand, or left by an interrupted commit), then `text` becomes a new
 * generation, then the `.env` is replaced atomically (0600), then index.json is saved; see the top of this
 * file for what a failure leaves. Callers hold the profile's lock. Returns the generation now current.
 */
export async function commitEnvText(paths: Paths, name: string, text: string, reason: string, opts: CommitOptions = {}): Promise<Generation> {
  const index = await loadIndex(paths, name);
  const bytes = encodeText(text);
  const onDisk = readBytes(envFile(paths, name));
  const pending = onDisk !== null && !index.generations.some((g) => g.sha256 === sha256(onDisk)) ? await unrecorded(paths, name, index, onDisk) : [];
  const latest = withPending(index, pending).generations.at(-1);
  let gen: Generation;
  if (!opts.always && latest && latest.sha256 === sha256(bytes)) {
    gen = latest;
  } else {
    const previous = pending.at(-1) ?? (latest ? { bytes: readBytes(generationFile(paths, name, latest.number)) ?? Buffer.alloc(0) } : null);
    gen = await entryFor(paths, name, previous, withPending(index, pending).next, bytes, reason);
    pending.push({ gen, bytes, adopted: false });
  }
  await commit(paths, name, index, pending, opts.keep ?? DEFAULT_KEEP, { bytes, before: onDisk });
  return gen;
}

/**
 * The generation holding exactly `text` (the `.env`'s bytes, as a caller read them); when none does (the
 * file was edited by hand, or left by an interrupted commit) `text` is kept as one first, in the
 * commit's order. Callers hold the profile's lock.
 */
export async function adoptText(paths: Paths, name: string, text: string, keep = DEFAULT_KEEP): Promise<Generation> {
  const index = await loadIndex(paths, name);
  const sha = sha256(text);
  const gen = index.generations.filter((g) => g.sha256 === sha).at(-1);
  if (gen) return gen;
  const pending = await unrecorded(paths, name, index, encodeText(text));
  await commit(paths, name, index, pending, keep);
  return pending.at(-1)!.gen;
}

/**
 * Mark the newest generation holding exactly the bytes `sha` as known-good: the profile was healthy
 * with them. Never what the `.env` holds by then, which may have changed since the process started.
 * Null when no kept generation holds them. Callers hold the profile's lock.
 */
export async function markKnownGood(paths: Paths, name: string, sha: string, keep = DEFAULT_KEEP): Promise<Generation | null> {
  const index = await loadIndex(paths, name);
  const gen = index.generations.filter((g) => g.sha256 === sha).at(-1);
  if (!gen || gen.knownGood) return gen ?? null;
  gen.knownGood = true;
  await commit(paths, name, index, [], keep);
  return gen;
}

/** The newest known-good generation, optionally only among those numbered below `before`. */
export function lastKnownGood(generations: Generation[], before?: number): Generation | null {
  return generations.filter((g) => g.knownGood && (before === undefined || g.number < before)).at(-1) ?? null;
}

/** Move a removed profile's generations beside its kept `.env` (or delete them with `purge`). */
export async function retireGenerations(paths: Paths, name: string, keptAs: string | null): Promise<void> {
  const dir = generationsDir(paths, name);
  if (keptAs === null) {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  await fs.rename(dir, keptAs.replace(/\.env$/, ".generations")).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

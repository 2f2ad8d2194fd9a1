import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { array, boolean, int, number, object, optional, positive, regex, string, type output } from "../schema.js";
import { BadFileError, UsageError } from "../errors.js";
import { envFile, profileDir, type Paths } from "../paths.js";
import { ensureDir, writeFileAtomic } from "./atomic.js";
import { parseEnv, type EnvEntries } from "./envfile.js";
import { readLimits, type Limits } from "./limits.js";

/**
 * Every version of a profile's `.env` that the tool wrote (or found edited by hand) is a numbered
 * generation under `<state>/generations/NAME/`: `N.env` holds its exact bytes, `index.json` its number,
 * time, sha256, what wrote it, the keys it changed and whether the profile was healthy with it.
 * Write order is generation file, index, then `.env`, so a crash at any point leaves a `.env` that
 * equals one of its generations.
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

/** sha256 of a file's bytes, hex. */
export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
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
    throw err;
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

async function saveIndex(paths: Paths, name: string, index: Index): Promise<void> {
  await writeFileAtomic(indexFile(paths, name), JSON.stringify(index, null, 2) + "\n", 0o600);
}

/** Keys whose presence or value differs between two versions. */
export function changedKeys(before: EnvEntries, after: EnvEntries): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

async function readText(file: string): Promise<string | null> {
  try {
    // Synchronous, as every small file the store reads (see readEnv in profiles.ts).
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

async function append(paths: Paths, name: string, index: Index, text: string, reason: string, knownGood = false): Promise<Generation> {
  const previous = index.generations.at(-1);
  const before = previous ? parseEnv((await readText(generationFile(paths, name, previous.number))) ?? "").entries : new Map<string, string>();
  const gen: Generation = {
    number: index.next,
    time: new Date().toISOString(),
    sha256: sha256(text),
    reason,
    changed: changedKeys(before, parseEnv(text).entries),
    knownGood,
    // A broken limits.json must not stop a .env change; that generation then records none.
    limits: await readLimits(paths, name).catch(() => ({})),
  };
  await ensureDir(generationsDir(paths, name), 0o700);
  await writeFileAtomic(generationFile(paths, name, gen.number), text, 0o600);
  index.generations.push(gen);
  index.next = gen.number + 1;
  return gen;
}

// Old generations go, but never the newest known-good one whose file is intact: it is what a failed
// roll reverts to (a corrupt one is never restored, so it protects nothing).
async function prune(paths: Paths, name: string, index: Index, keep: number): Promise<void> {
  const newestGood = (await newestIntact(paths, name, index.generations.filter((g) => g.knownGood))).generation;
  const kept = index.generations.filter((g, i) => i >= index.generations.length - keep || g === newestGood);
  const dropped = index.generations.filter((g) => !kept.includes(g));
  index.generations = kept;
  await saveIndex(paths, name, index);
  for (const g of dropped) await fs.rm(generationFile(paths, name, g.number), { force: true });
}

/** The generations of a profile, oldest first, and the number of the one the `.env` holds now (null: none). */
export async function history(paths: Paths, name: string): Promise<{ generations: Generation[]; current: number | null; fileSha256: string | null }> {
  const index = await loadIndex(paths, name);
  const text = await readText(envFile(paths, name));
  const sha = text === null ? null : sha256(text);
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
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { corrupt: { number: g.number, file, expected: g.sha256, actual: null } };
    throw err;
  }
  const actual = sha256(bytes);
  if (actual !== g.sha256) return { corrupt: { number: g.number, file, expected: g.sha256, actual } };
  return { text: bytes.toString("utf8") };
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
 * generation holds it (edited by hand), then `text` becomes a new generation, then the `.env` is
 * replaced atomically (0600). Callers hold the profile's lock. Returns the generation now current.
 */
export async function commitEnvText(paths: Paths, name: string, text: string, reason: string, opts: CommitOptions = {}): Promise<Generation> {
  const index = await loadIndex(paths, name);
  const onDisk = await readText(envFile(paths, name));
  if (onDisk !== null && !index.generations.some((g) => g.sha256 === sha256(onDisk))) {
    await append(paths, name, index, onDisk, index.generations.length === 0 ? "found on disk (before history was kept)" : "found on disk (edited by hand)");
  }
  const latest = index.generations.at(-1);
  let gen: Generation;
  if (!opts.always && latest && latest.sha256 === sha256(text)) {
    gen = latest;
  } else {
    gen = await append(paths, name, index, text, reason);
  }
  await prune(paths, name, index, opts.keep ?? DEFAULT_KEEP);
  await ensureDir(profileDir(paths, name), 0o700);
  await writeFileAtomic(envFile(paths, name), text, 0o600);
  return gen;
}

/**
 * The generation holding exactly `text` (the `.env`'s bytes, as a caller read them); when none does (the
 * file was edited by hand) `text` is kept as one first. Callers hold the profile's lock.
 */
export async function adoptText(paths: Paths, name: string, text: string, keep = DEFAULT_KEEP): Promise<Generation> {
  const index = await loadIndex(paths, name);
  const sha = sha256(text);
  const gen = index.generations.filter((g) => g.sha256 === sha).at(-1);
  if (gen) return gen;
  const added = await append(paths, name, index, text, "found on disk (edited by hand)");
  await prune(paths, name, index, keep);
  return added;
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
  await prune(paths, name, index, keep);
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

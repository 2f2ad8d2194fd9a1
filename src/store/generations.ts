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

/** Where generation `n` of a profile keeps its bytes. */
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

// Old generations go, but never the newest known-good one: it is what a failed roll reverts to.
async function prune(paths: Paths, name: string, index: Index, keep: number): Promise<void> {
  const newestGood = index.generations.filter((g) => g.knownGood).at(-1);
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

/** The exact bytes of a kept generation; UsageError when it is not kept. */
export async function readGeneration(paths: Paths, name: string, n: number): Promise<string> {
  const index = await loadIndex(paths, name);
  if (!index.generations.some((g) => g.number === n)) {
    const kept = index.generations.map((g) => g.number);
    throw new UsageError(`profile "${name}" has no generation ${n} (kept: ${kept.length > 0 ? kept.join(", ") : "none"})`, `run \`profiles history ${name}\``);
  }
  const text = await readText(generationFile(paths, name, n));
  if (text === null) throw new BadFileError(generationFile(paths, name, n), "is missing although index.json lists it");
  return text;
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
 * Mark the generation the `.env` holds now as known-good (the profile was healthy with it). A file that no
 * generation holds (edited by hand) is kept as one first. Returns the generation marked.
 */
export async function markKnownGood(paths: Paths, name: string, keep = DEFAULT_KEEP): Promise<Generation | null> {
  const index = await loadIndex(paths, name);
  const onDisk = await readText(envFile(paths, name));
  if (onDisk === null) return null;
  const sha = sha256(onDisk);
  let gen = index.generations.filter((g) => g.sha256 === sha).at(-1);
  if (!gen) gen = await append(paths, name, index, onDisk, "found on disk (edited by hand)");
  if (gen.knownGood) return gen;
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

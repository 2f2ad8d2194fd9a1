import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { array, boolean, firstIssue, int, number, object, optional, positive, regex, string, type output } from "../schema.js";
import { BadFileError, UsageError, fileSystemFault } from "../errors.js";
import type { Paths } from "../paths.js";
import { readTextIfAny, writeFileAtomic } from "./atomic.js";
import { brokenSymlink } from "./symlinks.js";
import { decodeBytes, encodeText } from "./bytes.js";
import type { EnvEntries } from "./envfile.js";
import type { Limits } from "./limits.js";

/**
 * Where a profile's generations live and how they are read: `<state>/generations/NAME/N.env` (exact
 * bytes) and `index.json` (number, time, sha256, reason, keys changed, known-good, limits). A file is
 * trusted only after its bytes match the sha256 index.json records (`readVerified`).
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
/** index.json as read and written. */
export type Index = output<typeof indexSchema>;

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

/** A profile's index.json. */
export function indexFile(paths: Paths, name: string): string {
  return path.join(generationsDir(paths, name), "index.json");
}

/** The file holding generation `n`'s bytes. */
export function generationFile(paths: Paths, name: string, n: number): string {
  return path.join(generationsDir(paths, name), `${n}.env`);
}

/** index.json of a profile; an empty history when there is none, BadFileError when it does not parse. */
export async function loadIndex(paths: Paths, name: string): Promise<Index> {
  const file = indexFile(paths, name);
  const text = readTextIfAny(file, (err) => fileSystemFault(err, file, "read") ?? err);
  if (text === null) return { next: 1, generations: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BadFileError(file, "is not valid JSON", "move it away; the .env itself is untouched");
  }
  const parsed = indexSchema.safeParse(raw);
  if (!parsed.success) throw new BadFileError(file, firstIssue(parsed.error));
  return parsed.data;
}

/** index.json's text for `index`. */
export function indexText(index: Index): string {
  return JSON.stringify(index, null, 2) + "\n";
}

/** Write index.json atomically (0600). */
export async function saveIndex(paths: Paths, name: string, index: Index): Promise<void> {
  await writeFileAtomic(indexFile(paths, name), indexText(index), 0o600);
}

/** Keys whose presence or value differs between two versions. */
export function changedKeys(before: EnvEntries, after: EnvEntries): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** A file's exact bytes, or null when there is none. */
export function readBytes(file: string): Buffer | null {
  try {
    // Synchronous, as every small file the store reads (see readEnv in profiles.ts).
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const broken = brokenSymlink(file, e);
    if (broken) throw broken;
    if (e.code === "ENOENT" || e.code === "ENOTDIR") return null;
    if (e.code === "EISDIR") throw new BadFileError(file, "is a directory, not a file");
    throw fileSystemFault(err, file, "read") ?? err;
  }
}

/** readBytes, with a fault read as no file. */
export function readBytesOrNull(file: string): Buffer | null {
  try {
    return readBytes(file);
  } catch {
    return null;
  }
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
export function readVerified(paths: Paths, name: string, g: Generation): { text: string } | { corrupt: CorruptGeneration } {
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

/** Generation `n` as index.json lists it; UsageError naming the kept ones when it does not. */
export function keptGeneration(index: Index, name: string, n: number): Generation {
  const g = index.generations.find((x) => x.number === n);
  if (g) return g;
  const kept = index.generations.map((x) => x.number);
  throw new UsageError(`profile "${name}" has no generation ${n} (kept: ${kept.length > 0 ? kept.join(", ") : "none"})`, `run \`profiles history ${name}\``);
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


import { lstatSync, readdirSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { BadFileError, ProfileExistsError, ProfileNotFoundError } from "../errors.js";
import { envFile, envOutside, profileDir, type Paths } from "../paths.js";
import { ensureDir, writeFileAtomic } from "./atomic.js";
import { brokenSymlink } from "./symlinks.js";
import { decodeBytes } from "./bytes.js";
import { removeLimitsDropIn } from "./limits.js";
import { commitEnvText, generationsDir, retireGenerations, type CommitOptions, type Generation } from "./generations.js";
import { parseEnv, serializeEnv, type EnvEntries } from "./envfile.js";
import { assertProfileName, isProfileName } from "./names.js";

/** The comment the tool writes at the top of every `.env`. */
export const ENV_HEADER = "Written by agent-profiles; edit with `profiles set`, or by hand (systemd EnvironmentFile= syntax).";

/** Names of every profile, sorted: a profile is a directory under profiles/ holding a `.env`. */
export async function listProfiles(paths: Paths): Promise<string[]> {
  return profileNames(paths);
}

/**
 * listProfiles, synchronous: what shell completion can call (it must answer before the CLI exits), and as
 * fast as the store's other small reads.
 */
export function profileNames(paths: Paths): string[] {
  let names: string[];
  try {
    names = readdirSync(paths.profilesDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return names.filter((name) => isProfileName(name) && exists(envFile(paths, name))).sort();
}

// Whether anything is at `file`, a symlink to nothing included: such a `.env` still makes a profile, and
// reading it says what is wrong, where a profile missing from `list` would hide it (its unit fails to start).
function exists(file: string): boolean {
  return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
}

/**
 * Whether the profile exists: its `.env` is there, and its directory under profiles/ (which holds the
 * `.env` unless an env-path puts it elsewhere, where a `.env` alone is no profile of ours yet).
 */
export async function profileExists(paths: Paths, name: string): Promise<boolean> {
  return exists(envFile(paths, assertProfileName(name))) && (!envOutside(paths) || exists(profileDir(paths, name)));
}

/** Throw ProfileNotFoundError unless the profile exists. */
export async function assertProfileExists(paths: Paths, name: string): Promise<void> {
  if (!(await profileExists(paths, name))) throw new ProfileNotFoundError(name);
}

/** Read and parse a profile's `.env`; BadFileError where systemd would read it differently. */
export async function readEnv(paths: Paths, name: string): Promise<EnvEntries> {
  return entriesOf(paths, name, readEnvText(paths, name));
}

/** A profile's `.env` as it is on disk; ProfileNotFoundError when it is not there. */
export function readEnvText(paths: Paths, name: string): string {
  const file = envFile(paths, name);
  try {
    // Synchronous: a small local file, and a sweep reads ~1,000 of them, where a thread-pool hop per
    // open/stat/read/close cost more than the reads (BENCHMARKS.md).
    // As bytes (bytes.ts): a value that is not UTF-8 must survive a change to another key.
    return decodeBytes(readFileSync(file));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw brokenSymlink(file, e) ?? (e.code === "ENOENT" ? new ProfileNotFoundError(name) : new BadFileError(file, `cannot be read (${e.code})`));
  }
}

/** `text` of profile `name`'s `.env` parsed as systemd reads it; BadFileError naming the file where systemd would read it differently. */
export function entriesOf(paths: Paths, name: string, text: string): EnvEntries {
  const { entries, problems } = parseEnv(text);
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new BadFileError(envFile(paths, name), `line ${p.line}: ${p.message}`, `fix the file by hand, or run \`profiles env ${name}\` to see what systemd reads`);
  }
  return entries;
}

/** Make `entries` the profile's `.env` (atomic, 0600, dir 0700), kept as a new generation; callers hold its lock. */
export async function commitEnv(paths: Paths, name: string, entries: EnvEntries, reason: string, opts: CommitOptions = {}): Promise<Generation> {
  return commitEnvText(paths, name, serializeEnv(entries, ENV_HEADER), reason, opts);
}

/** Create a new profile as generation 1; ProfileExistsError if the name is taken. */
export async function createProfile(paths: Paths, name: string, entries: EnvEntries, keep?: number): Promise<Generation> {
  await ensureDir(paths.profilesDir, 0o700);
  if (await profileExists(paths, name)) throw new ProfileExistsError(name);
  return commitEnv(paths, name, entries, "add", { keep });
}

/**
 * Delete a profile. Unless `purge`, its `.env` is first kept as `<state>/removed/NAME.<time>.env`, its
 * generations beside it. The `.env` goes last, so that an interrupted remove leaves a profile that
 * `remove` can finish, never generations or limits without one, which a new profile of the name would
 * inherit. Returns where the `.env` was kept (null when purged) and whether a limits drop-in was removed.
 */
export async function deleteProfile(paths: Paths, name: string, purge: boolean): Promise<{ kept: string | null; dropInRemoved: boolean }> {
  let kept: string | null = null;
  if (!purge) {
    await ensureDir(paths.removedDir, 0o700);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    kept = path.join(paths.removedDir, `${name}.${stamp}.env`);
    const file = envFile(paths, name);
    const bytes = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => Promise.reject(brokenSymlink(file, err) ?? err));
    await writeFileAtomic(kept, bytes, 0o600);
  }
  await retireGenerations(paths, name, kept);
  const dropInRemoved = await removeLimitsDropIn(paths, name);
  for (const f of await fs.readdir(profileDir(paths, name))) if (f !== ".env") await fs.rm(path.join(profileDir(paths, name), f), { recursive: true, force: true });
  // An env-path's `.env` goes before the directory that marks it as ours: what is left is no profile.
  if (envOutside(paths)) {
    await fs.rm(envFile(paths, name), { force: true });
    // Its directory too when nothing else is in it (the gateway keeps more there, which stays).
    await fs.rmdir(path.dirname(envFile(paths, name))).catch(() => {});
  }
  await fs.rm(profileDir(paths, name), { recursive: true, force: true });
  return { kept, dropInRemoved };
}

/**
 * Before a profile is created: take away what an interrupted `remove` of an earlier profile of the name
 * may have left (generations are kept under removed/, limits files and the drop-in deleted). Returns
 * whether a drop-in was removed (the manager must then reload).
 */
export async function clearLeftovers(paths: Paths, name: string): Promise<boolean> {
  if (exists(generationsDir(paths, name))) {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    await ensureDir(paths.removedDir, 0o700);
    await retireGenerations(paths, name, path.join(paths.removedDir, `${name}.${stamp}.leftover.env`));
  }
  await fs.rm(profileDir(paths, name), { recursive: true, force: true });
  return removeLimitsDropIn(paths, name);
}

/** Ports recorded in profiles' `.env` files under `portVar`, to the profile that holds each; `except`'s left out. */
export async function recordedPorts(paths: Paths, portVar: string, except?: string): Promise<Map<number, string>> {
  const ports = new Map<number, string>();
  for (const name of await listProfiles(paths)) {
    // Two profiles may record one port (a hand edit): a profile must still see the other one.
    if (name === except) continue;
    // A .env broken by hand still records its port: read it leniently so that nobody else gets it.
    const text = await fs.readFile(envFile(paths, name), "utf8").catch(() => "");
    const port = portOf(parseEnv(text).entries, portVar);
    if (port !== null) ports.set(port, name);
  }
  return ports;
}

/** The port a profile's entries record, or null. */
export function portOf(entries: EnvEntries, portVar: string): number | null {
  const raw = entries.get(portVar);
  if (raw === undefined || !/^\d{1,5}$/.test(raw)) return null;
  return Number(raw);
}

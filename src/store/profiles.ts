import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { BadFileError, ProfileExistsError, ProfileNotFoundError } from "../errors.js";
import { envFile, profileDir, type Paths } from "../paths.js";
import { ensureDir, writeFileAtomic } from "./atomic.js";
import { decodeBytes } from "./bytes.js";
import { commitEnvText, retireGenerations, type CommitOptions, type Generation } from "./generations.js";
import { parseEnv, serializeEnv, type EnvEntries } from "./envfile.js";
import { assertProfileName, isProfileName } from "./names.js";

const HEADER = "Written by agent-profiles; edit with `profiles set`, or by hand (systemd EnvironmentFile= syntax).";

/** Names of every profile, sorted: a profile is a directory under profiles/ holding a `.env`. */
export async function listProfiles(paths: Paths): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(paths.profilesDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const found: string[] = [];
  await Promise.all(
    names.filter(isProfileName).map(async (name) => {
      if (await exists(envFile(paths, name))) found.push(name);
    }),
  );
  return found.sort();
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Whether the profile exists (its `.env` is there). */
export async function profileExists(paths: Paths, name: string): Promise<boolean> {
  return exists(envFile(paths, assertProfileName(name)));
}

/** Throw ProfileNotFoundError unless the profile exists. */
export async function assertProfileExists(paths: Paths, name: string): Promise<void> {
  if (!(await profileExists(paths, name))) throw new ProfileNotFoundError(name);
}

/** Read and parse a profile's `.env`; BadFileError where systemd would read it differently. */
export async function readEnv(paths: Paths, name: string): Promise<EnvEntries> {
  const file = envFile(paths, name);
  let text: string;
  try {
    // Synchronous: a small local file, and a sweep reads ~1,000 of them, where a thread-pool hop per
    // open/stat/read/close cost more than the reads (BENCHMARKS.md).
    // As bytes (bytes.ts): a value that is not UTF-8 must survive a change to another key.
    text = decodeBytes(readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new ProfileNotFoundError(name);
    throw new BadFileError(file, `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  const { entries, problems } = parseEnv(text);
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new BadFileError(file, `line ${p.line}: ${p.message}`, `fix the file by hand, or run \`profiles env ${name}\` to see what systemd reads`);
  }
  return entries;
}

/** Make `entries` the profile's `.env` (atomic, 0600, dir 0700), kept as a new generation; callers hold its lock. */
export async function commitEnv(paths: Paths, name: string, entries: EnvEntries, reason: string, opts: CommitOptions = {}): Promise<Generation> {
  return commitEnvText(paths, name, serializeEnv(entries, HEADER), reason, opts);
}

/** Create a new profile as generation 1; ProfileExistsError if the name is taken. */
export async function createProfile(paths: Paths, name: string, entries: EnvEntries, keep?: number): Promise<Generation> {
  await ensureDir(paths.profilesDir, 0o700);
  if (await profileExists(paths, name)) throw new ProfileExistsError(name);
  return commitEnv(paths, name, entries, "add", { keep });
}

/**
 * Delete a profile's directory. Unless `purge`, its `.env` is first kept as
 * `<state>/removed/NAME.<time>.env`, its generations beside it; returns that path (or null when purged).
 */
export async function deleteProfile(paths: Paths, name: string, purge: boolean): Promise<string | null> {
  let kept: string | null = null;
  if (!purge) {
    await ensureDir(paths.removedDir, 0o700);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    kept = path.join(paths.removedDir, `${name}.${stamp}.env`);
    await writeFileAtomic(kept, await fs.readFile(envFile(paths, name)), 0o600);
  }
  await fs.rm(profileDir(paths, name), { recursive: true, force: true });
  await retireGenerations(paths, name, kept);
  return kept;
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

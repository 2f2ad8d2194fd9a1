import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileSystemFault } from "../errors.js";
import { processAlive } from "../processes/identity.js";
import { makeDirs } from "./make-dirs.js";
import { refusedThroughLink, symlinkTarget } from "./symlinks.js";

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /**
   * fsync the file and its directory, so that the new content survives a power loss (default). Without,
   * a reader or a killed process still sees the old content or the new, never a mix.
   */
  durable?: boolean;
  /**
   * A symlink at `file` stays: its target is replaced instead (a `.env` kept in a dotfiles repository and
   * linked in, by hand or by stow, keeps its link and gets the new content). A link to nothing is a
   * BadFileError. Default: the link itself is replaced by the new file.
   */
  followSymlink?: boolean;
}

/**
 * Write a file so that a reader (or a crash) sees the old content or the new, never a mix:
 * temporary file in the same directory, fsync, rename, fsync of the directory. On any failure the
 * temporary file is gone and `file` holds its old content; a full disk, a read-only mount or a
 * permission problem is a FileSystemError naming `file`.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const link = file;
  if (opts.followSymlink) file = await symlinkTarget(file);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  await removeStaleTemps(dir, path.basename(file));
  try {
    const handle = await fs.open(tmp, "wx", mode);
    try {
      await handle.writeFile(data);
      // The umask may have narrowed the mode given to open; set it exactly.
      await handle.chmod(mode);
      if (durable) await handle.sync();
    } finally {
      // close can report a write the kernel deferred (ENOSPC on some file systems): it fails the write too.
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw (file !== link ? refusedThroughLink(err, file, link) : null) ?? fileSystemFault(err, file) ?? err;
  }
  if (durable) await syncDir(dir).catch((err: unknown) => Promise.reject(fileSystemFault(err, dir, "sync") ?? err));
}

/**
 * Remove the temporary files of earlier writes of `base` in `dir` whose process is gone: a SIGKILL
 * between the write and the rename leaves one, holding the new content (a `.env`'s secrets). Beside a
 * symlinked `.env`'s target, that is the user's dotfiles repository, where `git add -A` would take it.
 * A file of a live process (ours, or one that got its PID) is left: it may be a write under way.
 */
async function removeStaleTemps(dir: string, base: string): Promise<void> {
  const prefix = `.${base}.`;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) await fs.rm(path.join(dir, name), { force: true }).catch(() => {});
  }
}

/**
 * `writeFileAtomic`, unless `file` already holds exactly `data`: then only its mode is set, and its
 * mtime stays, so the manager does not see a unit file as changed. Whether the bytes on disk changed.
 */
export async function writeFileIfChanged(file: string, data: string | Uint8Array, mode = 0o600, opts: AtomicWriteOptions = {}): Promise<boolean> {
  const want = typeof data === "string" ? Buffer.from(data) : data;
  // Anything unreadable counts as different: the write then replaces it, or says why it cannot.
  const have = await fs.readFile(file).catch(() => null);
  if (have === null || !have.equals(want)) {
    await writeFileAtomic(file, data, mode, opts);
    return true;
  }
  if (((await fs.stat(file)).mode & 0o7777) !== mode) await fs.chmod(file, mode).catch((err: unknown) => Promise.reject(fileSystemFault(err, file, "chmod") ?? err));
  return false;
}

/**
 * A small file's text, or null when there is none; any other error goes through `fault`. Synchronous, as
 * every small file the store reads (see readEnv in profiles.ts).
 */
export function readTextIfAny(file: string, fault: (err: NodeJS.ErrnoException) => unknown): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw fault(err as NodeJS.ErrnoException);
  }
}

/** Delete a file; whether it was there. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await fs.rm(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw fileSystemFault(err, file, "remove") ?? err;
  }
}

/** fsync a directory so that a rename in it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Make `file`'s directory (0700) when it is missing; an existing one keeps its mode. */
export async function ensureParent(file: string): Promise<void> {
  const dir = path.dirname(file);
  try {
    makeDirs(dir, 0o700);
  } catch (err) {
    throw fileSystemFault(err, dir, "set up the directory") ?? err;
  }
}

/** mkdir -p with an exact mode on the last component (the umask would otherwise narrow or keep it). */
export async function ensureDir(dir: string, mode: number): Promise<void> {
  try {
    makeDirs(dir, mode);
    await fs.chmod(dir, mode);
  } catch (err) {
    throw fileSystemFault(err, dir, "set up the directory") ?? err;
  }
}

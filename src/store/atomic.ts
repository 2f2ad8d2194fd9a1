import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /**
   * fsync the file and its directory, so that the new content survives a power loss (default). Without,
   * a reader or a killed process still sees the old content or the new, never a mix.
   */
  durable?: boolean;
}

/**
 * Write a file so that a reader (or a crash) sees the old content or the new, never a mix:
 * temporary file in the same directory, fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await fs.open(tmp, "wx", mode);
  try {
    await handle.writeFile(data);
    // The umask may have narrowed the mode given to open; set it exactly.
    await handle.chmod(mode);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await syncDir(dir);
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
  if (((await fs.stat(file)).mode & 0o7777) !== mode) await fs.chmod(file, mode);
  return false;
}

/** Delete a file; whether it was there. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await fs.rm(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
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

/** mkdir -p with an exact mode on the last component (the umask would otherwise narrow or keep it). */
export async function ensureDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  await fs.chmod(dir, mode);
}

import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { BusyError } from "../errors.js";
import { processAlive } from "../proc/alive.js";
import { ensureDir } from "./atomic.js";

/** Who holds a lock, as written into the lock file. */
export interface LockOwner {
  pid: number;
  command: string;
  since: string;
}

/** A held lock; release it in a `finally`. */
export interface Lock {
  release(): Promise<void>;
}

async function readOwner(file: string): Promise<LockOwner | null> {
  try {
    const owner = JSON.parse(await fs.readFile(file, "utf8")) as LockOwner;
    return typeof owner.pid === "number" ? owner : null;
  } catch {
    return null;
  }
}

/**
 * Create the lock file with its content in one step: written to a file of our own, then hard-linked into
 * place (fails with EEXIST if taken). With open(O_EXCL) then write, a waiter could find the file still
 * empty, take it for a dead writer's and break it: two parallel `add`s then got the same port. Returns
 * false when the lock is taken. Filesystems without hard links fall back to O_EXCL.
 */
async function create(file: string, content: string): Promise<boolean> {
  // Unique within the process too: one process may wait on the same lock from two places.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await fs.writeFile(tmp, content, { mode: 0o600 });
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  try {
    const handle = await fs.open(file, "wx", 0o600);
    await handle.writeFile(content);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Temp files of `create` left by processes killed between write and unlink. */
async function removeDeadTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = f.startsWith(prefix) ? /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(f.slice(prefix.length)) : null;
    if (m && !processAlive(Number(m[1]))) await fs.rm(path.join(dir, f), { force: true });
  }
}

/**
 * Take a lock file with O_EXCL. A lock whose owner process is gone (killed, crashed) is stale and is
 * broken under a second lock, so that two waiters never both break it and both believe they hold it.
 */
async function tryLock(file: string, command: string): Promise<LockOwner | null> {
  const me: LockOwner = { pid: process.pid, command, since: new Date().toISOString() };
  if (await create(file, JSON.stringify(me))) return null;
  const owner = await readOwner(file);
  if (owner && processAlive(owner.pid)) return owner;
  // Gone between our attempt and the read: its holder released it just now.
  if (!owner && !(await fs.stat(file).catch(() => null))) return tryLock(file, command);
  // An owner that cannot be read: the lock file is created whole (below), so this is no writer at work
  // but garbage (an older version killed between open and write, a disk error): stale.
  const breaker = `${file}.break`;
  try {
    const handle = await fs.open(breaker, "wx", 0o600);
    await handle.close();
  } catch {
    // A breaker left by a process killed in this short window would block everyone forever.
    const st = await fs.stat(breaker).catch(() => null);
    if (st && Date.now() - st.mtimeMs > 5000) await fs.rm(breaker, { force: true });
    return owner ?? { pid: 0, command: "unknown", since: "" };
  }
  try {
    // Still the same stale lock? Another process may have broken it and taken a new one meanwhile.
    const again = await readOwner(file);
    if (again?.pid === owner?.pid && !(again && processAlive(again.pid))) await fs.rm(file, { force: true });
  } finally {
    await fs.rm(breaker, { force: true });
  }
  return tryLock(file, command);
}

/**
 * Hold the lock `name` under `locksDir`, waiting up to `waitMs` for another holder to finish.
 * Throws BusyError naming the holder when the wait runs out (immediately with waitMs 0).
 */
export async function acquireLock(locksDir: string, name: string, command: string, waitMs: number): Promise<Lock> {
  await ensureDir(locksDir, 0o700);
  const file = path.join(locksDir, `${name}.lock`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const holder = await tryLock(file, command);
    if (!holder) {
      await removeDeadTemps(file);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          const owner = await readOwner(file);
          if (owner?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    }
    if (Date.now() >= deadline) {
      throw new BusyError(
        `${name} lock is held by process ${holder.pid} (${holder.command}) since ${holder.since || "an unknown time"}`,
        "wait for it to finish, then run the command again",
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How long a command waits for another one working on the same profile. */
export const PROFILE_LOCK_WAIT_MS = 30_000;

/** Run `fn` holding the profile's own lock, so that two commands never change one `.env` at once. */
export async function withProfileLock<T>(locksDir: string, name: string, command: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(locksDir, `profile-${name}`, command, PROFILE_LOCK_WAIT_MS);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

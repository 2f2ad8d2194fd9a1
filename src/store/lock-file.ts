/** One lock file on disk: created whole, read back with who wrote it and which instance of the file it is. */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { fileSystemFault } from "../errors.js";
import { isRunning, processAlive, type ProcessIdentity } from "../processes/identity.js";
import { int, nullable, number, object, positive, string } from "../schema.js";

/** Who holds a lock, as written into the lock file. */
export interface LockOwner extends ProcessIdentity {
  command: string;
  since: string;
}

const ownerSchema = object({
  pid: number().check(int(), positive()),
  command: string(),
  since: string(),
  startTicks: nullable(number().check(int())),
  bootId: nullable(string()),
});

// Files written by versions before the identity was recorded: judged by their PID and their age.
const legacySchema = object({ pid: number().check(int(), positive()), command: string(), since: string() });

/**
 * How long a lock file that names no process identity is taken to be still in the making: only the
 * O_EXCL fallback of `createWhole` can show a half-written file, for the moment between open and write.
 */
export const UNREADABLE_GRACE_MS = 2000;

/** A lock file as found: `key` names this very file (inode, time and bytes), so that a breaker removes no other. */
export interface SeenLock {
  key: string;
  /** Its owner when the file holds one; null: garbled, or written by an older version. */
  owner: LockOwner | null;
  /** The PID an older version's file names (it records no start time). */
  legacyPid: number | null;
  ageMs: number;
}

/** What the file's holder is, as far as anyone can tell. */
export type Judgement = "live" | "stale" | "unsure";

/**
 * Create `file` with its content in one step: written to a file of our own, then hard-linked into place
 * (fails with EEXIST if taken). With open(O_EXCL) then write, a waiter could find the file still empty,
 * take it for a dead writer's and break it: two parallel `add`s then got the same port. Returns false
 * when the file exists. Filesystems without hard links fall back to O_EXCL.
 */
export async function createWhole(file: string, content: string): Promise<boolean> {
  // Unique within the process too: one process may wait on the same lock from two places.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await fs.writeFile(tmp, content, { mode: 0o600 });
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // EPERM of link(2) is a file system without hard links; of the write before it, a permission problem.
    if ((code !== "EPERM" || (err as NodeJS.ErrnoException).syscall !== "link") && code !== "ENOTSUP" && code !== "ENOSYS") throw fileSystemFault(err, file, "create the lock") ?? err;
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
    throw fileSystemFault(err, file, "create the lock") ?? err;
  }
}

/** Read a lock file; null when there is none. */
export async function seeLock(file: string): Promise<SeenLock | null> {
  let handle;
  try {
    handle = await fs.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    // Stat and bytes from one descriptor: the key must describe the file whose content was judged.
    const st = await handle.stat({ bigint: true });
    const bytes = await handle.readFile();
    const key = createHash("sha256").update(`${st.dev}:${st.ino}:${st.mtimeNs}\0`).update(bytes).digest("hex").slice(0, 16);
    let raw: unknown = null;
    try {
      raw = JSON.parse(bytes.toString("utf8"));
    } catch {
      // garbled: owner stays null
    }
    const owner = ownerSchema.safeParse(raw);
    const legacy = owner.success ? null : legacySchema.safeParse(raw);
    return {
      key,
      owner: owner.success ? owner.data : null,
      legacyPid: legacy?.success ? legacy.data.pid : null,
      ageMs: Date.now() - Number(st.mtimeMs),
    };
  } finally {
    await handle.close();
  }
}

/**
 * A file naming a process identity is live exactly while that process runs. One naming none (garbled,
 * or an older version's) is unsure while young, then stale; an older version's whose PID is gone is
 * stale at once.
 */
export function judge(seen: SeenLock): Judgement {
  if (seen.owner) return isRunning(seen.owner) ? "live" : "stale";
  if (seen.legacyPid !== null && !processAlive(seen.legacyPid)) return "stale";
  // A time ahead of the clock (the clock was set back) counts as old too: it would otherwise never age.
  return Math.abs(seen.ageMs) < UNREADABLE_GRACE_MS ? "unsure" : "stale";
}

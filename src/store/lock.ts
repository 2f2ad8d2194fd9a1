import fs from "node:fs/promises";
import path from "node:path";
import { BusyError } from "../errors.js";
import { processAlive, selfIdentity } from "../processes/identity.js";
import { ensureDir } from "./atomic.js";
import { breakStale, isClaim } from "./lock-break.js";
import { createWhole, judge, seeLock, UNREADABLE_GRACE_MS, type LockOwner } from "./lock-file.js";

export type { LockOwner } from "./lock-file.js";

/** A held lock; release it in a `finally`. */
export interface Lock {
  release(): Promise<void>;
}

/** What one attempt found: the lock is ours, a live process holds it, or it is about to be settled. */
type Attempt = { held: true } | { holder: LockOwner } | { unsure: true };

/**
 * One attempt at the lock file. A lock whose holder is not the very process it names (dead, its PID
 * reused, another boot) is stale and broken at once, through breakStale, so that two breakers never
 * both believe they hold it.
 */
async function tryLock(file: string, command: string): Promise<Attempt> {
  const me: LockOwner = { ...selfIdentity(), command, since: new Date().toISOString() };
  // Each round either takes the lock, sees it held, or finds it gone (released or broken): bounded
  // only against a pathological churn of other processes.
  for (let round = 0; round < 20; round++) {
    if (await createWhole(file, JSON.stringify(me))) return { held: true };
    const seen = await seeLock(file);
    if (!seen) continue;
    const verdict = judge(seen);
    if (verdict === "live") return { holder: seen.owner! };
    if (verdict === "unsure" || !(await breakStale(file, seen.key, command))) return { unsure: true };
  }
  return { unsure: true };
}

/**
 * Breakers' claims, and temp files of `createWhole` left by processes killed mid-way. Only the lock's
 * holder calls this, listing after it took the lock: no claim listed can be on the instance it holds,
 * so each one is spent.
 */
async function tidy(file: string): Promise<void> {
  const entries = await fs.readdir(path.dirname(file)).catch(() => [] as string[]);
  const prefix = `${path.basename(file)}.`;
  for (const f of entries.filter((e) => e.startsWith(prefix))) {
    const temp = /\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(f);
    if (temp ? !processAlive(Number(temp[1])) : isClaim(file, f)) await fs.rm(path.join(path.dirname(file), f), { force: true });
  }
}

function busy(name: string, file: string, holder: LockOwner): BusyError {
  return new BusyError(
    `${name} lock ${file} is held by process ${holder.pid} (${holder.command}) since ${holder.since}`,
    `wait for \`${holder.command}\` (process ${holder.pid}) to finish, then run the command again`,
    { pid: holder.pid, command: holder.command, file },
  );
}

/**
 * Hold the lock `name` under `locksDir`, waiting up to `waitMs` for a live holder to finish. Throws
 * BusyError naming the holder when the wait runs out (immediately with waitMs 0). A lock file that
 * cannot be judged yet (half-written, or being broken by another process) is waited for in any case,
 * for at most UNREADABLE_GRACE_MS beyond the wait. An aborted `signal` ends the wait with its reason.
 */
export async function acquireLock(locksDir: string, name: string, command: string, waitMs: number, signal?: AbortSignal): Promise<Lock> {
  await ensureDir(locksDir, 0o700);
  const file = path.join(locksDir, `${name}.lock`);
  const deadline = Date.now() + waitMs;
  let unsureSince: number | null = null;
  for (;;) {
    const attempt = await tryLock(file, command);
    if ("held" in attempt) {
      await tidy(file);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          const owner = (await seeLock(file))?.owner;
          if (owner?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    }
    if ("holder" in attempt && Date.now() >= deadline) throw busy(name, file, attempt.holder);
    unsureSince = "unsure" in attempt ? (unsureSince ?? Date.now()) : null;
    // Settles within the grace period by design; twice that means something no judgement here foresaw.
    if (unsureSince !== null && Date.now() - unsureSince > 2 * UNREADABLE_GRACE_MS && Date.now() >= deadline) {
      throw new BusyError(`${name} lock ${file} stayed unreadable, or being broken, for ${2 * UNREADABLE_GRACE_MS} ms`, `look at ${file}; if no \`profiles\` command runs, remove it`);
    }
    signal?.throwIfAborted();
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How long a command waits for another one working on the same profile. */
export const PROFILE_LOCK_WAIT_MS = 30_000;

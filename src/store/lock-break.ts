/**
 * Breaking a stale lock file so that two breakers never both remove it, and none removes the fresh lock
 * another took after breaking it. Only the holder of the claim `FILE.break.KEY` removes the instance KEY
 * of the lock file, and only after judging the file again under that claim. A claim whose claimant died
 * is succeeded by `FILE.break.KEY~CLAIMKEY`, which again only one process can create. Keys name one
 * instance of a file (inode, mtime, bytes) and never come back, so a claim on a key the lock file no
 * longer has is harmless: the next holder of the lock removes them all.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { selfIdentity } from "../processes/identity.js";
import { createWhole, judge, seeLock } from "./lock-file.js";

// A claimant dying in the microseconds it holds its claim is rare; eight in a row on one lock is a bug.
const MAX_SUCCESSION = 8;

interface Claim {
  release(): Promise<void>;
}

async function claim(name: string, content: string, depth: number): Promise<Claim | null> {
  for (let tries = 0; tries < 3; tries++) {
    if (await createWhole(name, content)) return { release: () => fs.rm(name, { force: true }) };
    const seen = await seeLock(name);
    // Released between our attempt and the read: its claimant is done, try again.
    if (!seen) continue;
    if (judge(seen) !== "stale" || depth >= MAX_SUCCESSION) return null;
    return claim(`${name}~${seen.key.slice(0, 8)}`, content, depth + 1);
  }
  return null;
}

/**
 * Remove the lock file `file` if it still is the stale instance `key`. True when that instance is gone
 * (removed here or before), false when another live process is breaking it right now.
 */
export async function breakStale(file: string, key: string, command: string): Promise<boolean> {
  const content = JSON.stringify({ ...selfIdentity(), command: `${command} (breaking a stale lock)`, since: new Date().toISOString() });
  const held = await claim(`${file}.break.${key}`, content, 0);
  if (!held) return false;
  try {
    const now = await seeLock(file);
    if (now?.key === key && judge(now) === "stale") await fs.rm(file, { force: true });
  } finally {
    await held.release();
  }
  return true;
}

/** Whether `entry` (a name in the lock's directory) is a breaker's claim on `file`, or an older version's `FILE.break`. */
export function isClaim(file: string, entry: string): boolean {
  return entry.startsWith(`${path.basename(file)}.break`) && !entry.endsWith(".tmp");
}

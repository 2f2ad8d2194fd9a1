/** What one sweep leaves for the next: each profile's NRestarts, and the restarts counted so far. */
import fs from "node:fs/promises";
import path from "node:path";
import { int, literal, minimum, number, object, record, string } from "../../schema.js";
import type { Paths } from "../../paths.js";
import { ensureDir, writeFileAtomic } from "../../store/atomic.js";

/** Per profile: the unit's NRestarts at the end of the last sweep, and restarts seen by all sweeps. */
export interface ProfileMemory {
  nRestarts: number;
  restartsTotal: number;
}

const schema = object({
  version: literal(1),
  time: string(),
  profiles: record(string(), object({ nRestarts: number().check(int(), minimum(0)), restartsTotal: number().check(int(), minimum(0)) })),
});

/** Where the sweep keeps it. */
export function sweepStateFile(paths: Paths): string {
  return path.join(paths.stateDir, "sweep-state.json");
}

/** The last sweep's memory; empty when there is none, or when it cannot be read (it is only a baseline). */
export async function loadSweepState(paths: Paths): Promise<Map<string, ProfileMemory>> {
  try {
    const parsed = schema.safeParse(JSON.parse(await fs.readFile(sweepStateFile(paths), "utf8")));
    return parsed.success ? new Map(Object.entries(parsed.data.profiles)) : new Map();
  } catch {
    return new Map();
  }
}

/** Replace the memory with this sweep's (profiles that are gone are dropped). */
export async function saveSweepState(paths: Paths, memory: Map<string, ProfileMemory>, time: Date): Promise<void> {
  await ensureDir(paths.stateDir, 0o700);
  const body = { version: 1, time: time.toISOString(), profiles: Object.fromEntries(memory) };
  await writeFileAtomic(sweepStateFile(paths), JSON.stringify(body, null, 2) + "\n", 0o600);
}

/**
 * Restarts since the last sweep. NRestarts only grows while the unit lives; a manual start or a reset
 * (after which the unit may be unloaded) starts it again from 0, so a smaller number is all new.
 */
export function restartsSince(last: ProfileMemory | undefined, nRestarts: number): number {
  if (!last || nRestarts < last.nRestarts) return nRestarts;
  return nRestarts - last.nRestarts;
}

/**
 * The record of a roll across hosts, kept on the machine that drives it (`<state>/fleet-roll.json`), so
 * that a fleet roll stopped by Ctrl-C, a kill, a lost host or a failed gate is resumed by running the same
 * command again: hosts already rolled are skipped, the one that was under way rolls again (its own
 * `profiles roll` finishes the roll it left there).
 */
import path from "node:path";
import type { Paths } from "../paths.js";
import { array, enum as zenum, int, minimum, number, object, optional, string } from "../schema.js";
import { removeFile, writeFileAtomic } from "../store/atomic.js";
import { readJsonRecord } from "../store/json-record.js";
import { makeDirs } from "../store/make-dirs.js";

export const HOST_STATES = ["pending", "rolling", "rolled", "failed", "unreachable"] as const;
export type HostState = (typeof HOST_STATES)[number];

const recordSchema = object({
  id: string(),
  startedAt: string(),
  pid: number().check(int(), minimum(1)),
  /** The command line each host runs (`roll ...`), less the fleet options. */
  args: array(string()),
  /** `apply -f FILE --host`: the manifest's sha256 (another manifest is another rollout). */
  digest: optional(string()),
  canaryHosts: number().check(int(), minimum(0)),
  maxParallelHosts: number().check(int(), minimum(1)),
  maxFailPercent: number().check(minimum(0)),
  /** Per host: `attempt` counts the rolls started there; a host left `rolling` is asked again with the same attempt. */
  hosts: array(object({ name: string(), state: zenum(HOST_STATES), exitCode: number().check(int()), attempt: number().check(int(), minimum(0)) })),
});

export type FleetRecord = ReturnType<typeof recordSchema.parse>;

/** Where the driving machine keeps the record. */
export function fleetRecordFile(paths: Paths): string {
  return path.join(paths.stateDir, "fleet-roll.json");
}

/** The unfinished fleet roll's record, or null; BadFileError naming the file when it cannot be used. */
export async function loadFleetRecord(paths: Paths): Promise<FleetRecord | null> {
  const file = fleetRecordFile(paths);
  return readJsonRecord(file, recordSchema, `look at it; \`rm ${file}\` drops it (the hosts keep their own roll records)`);
}

/** Write the record atomically (0600), as each host's state changes. */
export async function saveFleetRecord(paths: Paths, rec: FleetRecord): Promise<void> {
  makeDirs(paths.stateDir, 0o700);
  await writeFileAtomic(fleetRecordFile(paths), JSON.stringify(rec, null, 2) + "\n");
}

/** Every host rolled: nothing left to resume. */
export async function dropFleetRecord(paths: Paths): Promise<void> {
  await removeFile(fleetRecordFile(paths));
}

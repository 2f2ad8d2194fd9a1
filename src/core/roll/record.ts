import path from "node:path";
import { array, boolean, enum as enumOf, int, literal, nonnegative, nullable, number, object, optional, positive, record, refine, string, type output } from "../../schema.js";
import { readJsonRecord } from "../../store/json-record.js";
import { BadFileError } from "../../errors.js";
import type { Paths } from "../../paths.js";
import { selfIdentity } from "../../processes/identity.js";
import { shellWord } from "../../render/shell.js";
import { isProfileName, NAME_RULE } from "../../store/names.js";
import { FAILURE_KINDS } from "./failure.js";
import type { RollOptions } from "./options.js";
import type { RollPlan } from "./plan.js";

/**
 * The roll record, `<state>/roll.json`: the plan of the current (or last) roll and where each profile
 * stands, rewritten atomically at every change. A record without `finished` belongs to a roll that was
 * interrupted (Ctrl-C, SIGTERM, SIGKILL, a lost manager); the next `profiles roll` finishes it.
 */

/** Where a profile stands in a roll. `rolling` and `reverting` are the states a killed roll can leave. */
export const PROFILE_STATES = ["pending", "rolling", "rolled", "reverting", "reverted", "failed", "skipped"] as const;
export type ProfileState = (typeof PROFILE_STATES)[number];

/** States that still need work when a roll is resumed. */
export const UNSETTLED: ReadonlySet<ProfileState> = new Set(["pending", "rolling", "reverting"]);
/** States that halt the roll after their batch. */
export const HALTING: ReadonlySet<ProfileState> = new Set(["reverted", "failed"]);

const entrySchema = object({
  state: enumOf(PROFILE_STATES),
  batch: number().check(int(), nonnegative()),
  /** The generation rolled (null: the .env matched none when the roll began). */
  generation: nullable(number().check(int(), positive())),
  /** The known-good generation restored, once a revert began. */
  revertedTo: nullable(number().check(int(), positive())),
  failure: nullable(enumOf(FAILURE_KINDS)),
  /** Why the gate failed. */
  reason: nullable(string()),
  /** Why it was not reverted, or why the revert did not bring it back. */
  revertProblem: nullable(string()),
  /** Newer known-good generations the revert passed over because their files are corrupt (absent: none). */
  revertSkipped: optional(array(object({ number: number().check(int(), positive()), file: string(), expected: string(), actual: nullable(string()) }))),
  /** The tail of its log when the gate failed. */
  details: array(string()),
  pidBefore: nullable(number().check(int())),
  pidAfter: nullable(number().check(int())),
  /** Restarts this roll made (a resumed roll restarts a profile it left mid-gate again). */
  attempts: number().check(int(), nonnegative()),
  startedAt: nullable(string()),
  endedAt: nullable(string()),
});
export type ProfileEntry = output<typeof entrySchema>;

const optionsSchema = object({
  maxParallel: number().check(int(), positive()),
  canary: number().check(int(), nonnegative()),
  minHealthyMs: number().check(nonnegative()),
  healthyDeadlineMs: number().check(positive()),
  progressDeadlineMs: number().check(nonnegative()),
  autoRevert: boolean(),
  reload: optional(boolean()),
});

// Names go into file paths and lock names: one that is no profile name makes the record bad, not the command line.
const nameSchema = string().check(refine(isProfileName, { message: `not a profile name (${NAME_RULE})` }));

const recordSchema = object({
  version: literal(1),
  id: string(),
  /** The process running it now (or last), with its start time and boot (absent in records of older versions). */
  pid: number().check(int()),
  startTicks: optional(nullable(number().check(int()))),
  bootId: optional(nullable(string())),
  startedAt: string(),
  updatedAt: string(),
  /** Names as asked; null: every profile. */
  requested: nullable(array(nameSchema)),
  /** "apply": the roll an apply recorded before its first change, which the next apply finishes (absent: `profiles roll`'s). */
  origin: optional(enumOf(["apply"])),
  /** The fleet roll (`roll --host`, its id and this host) this roll is part of: a resumed fleet roll does not roll this host twice. */
  fleet: optional(string()),
  options: optionsSchema,
  plan: array(object({ kind: enumOf(["canary", "batch"]), names: array(nameSchema) })),
  profiles: record(string(), entrySchema),
  /** Each Ctrl-C or SIGTERM that stopped it after a batch. */
  interruptions: array(object({ at: string(), signal: string() })),
  /** Each time a later `profiles roll` picked it up again. */
  resumptions: array(object({ at: string(), pid: number().check(int()) })),
  finished: nullable(object({ at: string(), outcome: enumOf(["completed", "halted"]) })),
});
export type RollRecord = output<typeof recordSchema>;

/** The record's path. */
export function recordFile(paths: Paths): string {
  return path.join(paths.stateDir, "roll.json");
}

/** What makes a record that matches the schema unusable: each planned profile once, each with its entry. */
function planProblem(rec: RollRecord): string | null {
  const planned = rec.plan.flatMap((b) => b.names);
  const twice = planned.find((n, i) => planned.indexOf(n) !== i);
  if (twice !== undefined) return `plan: "${twice}" is planned twice`;
  const missing = planned.find((n) => !Object.hasOwn(rec.profiles, n));
  if (missing !== undefined) return `profiles: "${missing}" is planned but has no entry`;
  const extra = Object.keys(rec.profiles).find((n) => !planned.includes(n));
  if (extra === undefined) return null;
  return `profiles.${extra}: ${isProfileName(extra) ? "not in the plan" : `not a profile name (${NAME_RULE})`}`;
}

/**
 * Read the record of the last roll, or null when there was none. BadFileError naming the file, with
 * the command that sets it aside, when it cannot be read, does not parse, or does not hold together.
 */
export async function loadRecord(paths: Paths): Promise<RollRecord | null> {
  const file = recordFile(paths);
  const hint = `look at it, then set it aside with \`mv ${shellWord(file)} ${shellWord(`${file}.bad`)}\`: \`profiles roll\` starts afresh without it (the .env files are not in it)`;
  const record = await readJsonRecord(file, recordSchema, hint);
  const problem = record && planProblem(record);
  if (problem) throw new BadFileError(file, problem, hint);
  return record;
}

/** A fresh entry for a planned profile. */
function pendingEntry(batch: number): ProfileEntry {
  return { state: "pending", batch, generation: null, revertedTo: null, failure: null, reason: null, revertProblem: null, details: [], pidBefore: null, pidAfter: null, attempts: 0, startedAt: null, endedAt: null };
}

/** A new record for a roll about to start (not yet written). */
export function newRecord(requested: string[] | null, options: RollOptions, plan: RollPlan, origin?: "apply"): RollRecord {
  const now = new Date().toISOString();
  const profiles: Record<string, ProfileEntry> = {};
  plan.forEach((b, i) => b.names.forEach((n) => (profiles[n] = pendingEntry(i))));
  return {
    version: 1,
    id: `${now}-${process.pid}`,
    ...selfIdentity(),
    startedAt: now,
    updatedAt: now,
    requested,
    ...(origin && { origin }),
    options,
    plan,
    profiles,
    interruptions: [],
    resumptions: [],
    finished: null,
  };
}

/** Profiles of a record in plan order, with their entries. */
export function entries(record: RollRecord): [string, ProfileEntry][] {
  return record.plan.flatMap((b) => b.names.map((n): [string, ProfileEntry] => [n, record.profiles[n]!]));
}

import { gt, int, maximum, minimum, number, object, superRefine } from "../../schema.js";
import type { Argv } from "yargs";
import { UsageError } from "../../errors.js";
import { MAX_SECONDS } from "../cli-args.js";

/** How a roll behaves; times in milliseconds. Kept in the roll record, so a resumed roll behaves the same. */
export interface RollOptions {
  maxParallel: number;
  canary: number;
  /** How long a profile must stay active and healthy, without a restart, to count as rolled. */
  minHealthyMs: number;
  /** How long a profile has, from its restart, to be healthy for `minHealthyMs`. */
  healthyDeadlineMs: number;
  /** How long the roll may go without a profile turning healthy; 0: no limit. */
  progressDeadlineMs: number;
  autoRevert: boolean;
  /** Reload (ExecReload=) instead of restart; a revert still restarts. */
  reload?: boolean;
}

/** Flag defaults, in the units the flags take (seconds). */
export const ROLL_DEFAULTS = {
  maxParallel: 1,
  canary: 0,
  minHealthyTime: 5,
  healthyDeadline: 30,
  progressDeadline: 300,
} as const;


const count = (min: number) => number("must be a number").check(int("must be a whole number"), minimum(min, `must be at least ${min}`), maximum(10_000, "must be at most 10000"));
const seconds = number("must be a number of seconds").check(minimum(0, "must not be negative"), maximum(MAX_SECONDS, `must be at most ${MAX_SECONDS} seconds`));

const flagsSchema = object({
  "max-parallel": count(1),
  canary: count(0),
  "min-healthy-time": seconds,
  "healthy-deadline": seconds.check(gt(0, "must be more than 0")),
  "progress-deadline": seconds,
}).check(
  superRefine((f, ctx) => {
    if (f["healthy-deadline"] <= f["min-healthy-time"]) {
      ctx.addIssue({ code: "custom", path: ["healthy-deadline"], message: `must be longer than --min-healthy-time (${f["min-healthy-time"]}), or no profile can pass` });
    }
    if (f["progress-deadline"] !== 0 && f["progress-deadline"] < f["healthy-deadline"]) {
      ctx.addIssue({ code: "custom", path: ["progress-deadline"], message: `must be 0 (no limit) or at least --healthy-deadline (${f["healthy-deadline"]})` });
    }
  }),
);

/** The flags as yargs hands them over (NaN for a non-number). */
export interface RollFlags {
  maxParallel: number;
  canary: number;
  minHealthyTime: number;
  healthyDeadline: number;
  progressDeadline: number;
  autoRevert: boolean;
  reload?: boolean;
}

/** Check the roll flags; UsageError naming the flag and its rule. */
export function parseRollOptions(flags: RollFlags): RollOptions {
  const raw = {
    "max-parallel": flags.maxParallel,
    canary: flags.canary,
    "min-healthy-time": flags.minHealthyTime,
    "healthy-deadline": flags.healthyDeadline,
    "progress-deadline": flags.progressDeadline,
  };
  const parsed = flagsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = String(issue.path[0]);
    const given = raw[flag as keyof typeof raw];
    throw new UsageError(`--${flag} ${Number.isNaN(given) ? "(not a number)" : given}: ${issue.message}`, "see `profiles roll --help`");
  }
  const f = parsed.data;
  return {
    maxParallel: f["max-parallel"],
    canary: f.canary,
    minHealthyMs: Math.round(f["min-healthy-time"] * 1000),
    healthyDeadlineMs: Math.round(f["healthy-deadline"] * 1000),
    progressDeadlineMs: Math.round(f["progress-deadline"] * 1000),
    autoRevert: flags.autoRevert,
    ...(flags.reload ? { reload: true } : {}),
  };
}

/** "5 s", "0.5 s": a duration in the unit the flags use. */
export function secondsText(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** The flags of a roll's batches and gate, as `roll` and `apply` declare them. */
export function declareRollFlags(y: Argv<any>): Argv<any> {
  return y
    .option("max-parallel", { type: "number", default: ROLL_DEFAULTS.maxParallel, describe: "Profiles restarted at once after the canaries" })
    .option("canary", { type: "number", default: ROLL_DEFAULTS.canary, describe: "Profiles in a first batch of their own" })
    .option("min-healthy-time", { type: "number", default: ROLL_DEFAULTS.minHealthyTime, describe: "Seconds each must stay active and healthy, unrestarted" })
    .option("healthy-deadline", { type: "number", default: ROLL_DEFAULTS.healthyDeadline, describe: "Seconds each has, from its restart, to pass" })
    .option("progress-deadline", { type: "number", default: ROLL_DEFAULTS.progressDeadline, describe: "Seconds the roll may go without a profile turning healthy (0: no limit)" })
    .option("auto-revert", { type: "boolean", default: true, describe: "Put a failing profile back on its last known-good .env (--no-auto-revert: leave it)" });
}

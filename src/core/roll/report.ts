import { corruptionText } from "../../store/generations.js";
import { secondsText } from "./options.js";
import { batchLabel, type RollPlan } from "./plan.js";
import { entries, type ProfileEntry, type ProfileState, type RollRecord } from "./record.js";
import type { RunOutcome } from "./runner.js";

/** A profile's fate in a roll, as the summary names it. */
export type ProfileOutcome = "rolled" | "reverted" | "failed" | "untouched" | "skipped" | "unfinished";

/** One profile in the summary. */
export interface ProfileReport extends ProfileEntry {
  name: string;
  outcome: ProfileOutcome;
}

/** One roll in the summary (a run may finish an interrupted roll, then run the one asked for). */
export interface RollReport {
  id: string;
  /** This run picked up a roll an earlier process left unfinished. */
  resumed: boolean;
  outcome: RunOutcome | "planned";
  startedAt: string;
  options: { maxParallel: number; canary: number; minHealthyTime: number; healthyDeadline: number; progressDeadline: number; autoRevert: boolean };
  plan: RollPlan;
  profiles: ProfileReport[];
}

/** An unfinished roll found at start, as it was left. */
export interface FoundRoll {
  id: string;
  startedAt: string;
  pid: number;
  /** The Ctrl-C/SIGTERM that stopped it, or null when its process ended otherwise (killed, crashed). */
  stoppedBy: string | null;
  /** Its process is still running (only a dry run can see that: a real roll would be refused). */
  running: boolean;
  states: Record<string, ProfileState>;
}

const OUTCOME_OF: Record<ProfileState, ProfileOutcome> = {
  pending: "untouched",
  rolling: "unfinished",
  reverting: "unfinished",
  rolled: "rolled",
  reverted: "reverted",
  failed: "failed",
  skipped: "skipped",
};

/** The summary of a roll from its record. */
export function rollReport(record: RollRecord, outcome: RollReport["outcome"], resumed: boolean): RollReport {
  const o = record.options;
  return {
    id: record.id,
    resumed,
    outcome,
    startedAt: record.startedAt,
    options: {
      maxParallel: o.maxParallel,
      canary: o.canary,
      minHealthyTime: o.minHealthyMs / 1000,
      healthyDeadline: o.healthyDeadlineMs / 1000,
      progressDeadline: o.progressDeadlineMs / 1000,
      autoRevert: o.autoRevert,
    },
    plan: record.plan,
    profiles: entries(record).map(([name, e]) => ({ name, outcome: OUTCOME_OF[e.state], ...e })),
  };
}

/** How an unfinished record was left. */
export function foundRoll(record: RollRecord, running = false): FoundRoll {
  const lastResume = record.resumptions.at(-1)?.at ?? "";
  const stop = record.interruptions.at(-1);
  return {
    id: record.id,
    startedAt: record.startedAt,
    pid: record.pid,
    stoppedBy: stop && stop.at >= lastResume ? stop.signal : null,
    running,
    states: Object.fromEntries(entries(record).map(([n, e]) => [n, e.state])),
  };
}

function group(states: Record<string, string>): string {
  const by = new Map<string, string[]>();
  for (const [n, s] of Object.entries(states)) by.set(s, [...(by.get(s) ?? []), n]);
  return [...by].map(([s, names]) => `${s}: ${names.join(", ")}`).join("; ");
}

/** Lines telling what an interrupted roll left and what finishing it does. */
export function foundText(f: FoundRoll): string[] {
  const how = f.running ? `is running now (process ${f.pid})` : f.stoppedBy ? `was stopped by ${f.stoppedBy}` : `ended without finishing (process ${f.pid} was killed or crashed)`;
  const regate = Object.entries(f.states).filter(([, s]) => s === "rolling" || s === "reverting").map(([n]) => n);
  const lines = [`an earlier roll (started ${f.startedAt}) ${how}; it left ${group(f.states)}`];
  if (regate.length > 0 && !f.running) lines.push(`  ${regate.join(", ")} ${regate.length > 1 ? "were" : "was"} mid-roll: restarted and gated again`);
  return lines;
}

/** The corrupt known-good generations a revert passed over, as a clause naming their files; "" when none. */
export function skippedText(e: Pick<ProfileEntry, "revertSkipped">): string {
  const s = e.revertSkipped ?? [];
  if (s.length === 0) return "";
  return ` (skipped corrupt generation${s.length > 1 ? "s" : ""}: ${s.map(corruptionText).join("; ")})`;
}

function pids(p: ProfileReport): string {
  if (p.pidBefore === null && p.pidAfter === null) return "";
  return `, pid ${p.pidBefore ?? "none"} → ${p.pidAfter ?? "none"}`;
}

/** One line per profile. */
export function profileLine(p: ProfileReport): string {
  const gen = p.generation !== null ? `generation ${p.generation}` : "";
  switch (p.outcome) {
    case "rolled":
      return `rolled     ${p.name}: ${gen}${pids(p)}`;
    case "reverted":
      return `reverted   ${p.name}: ${p.reason}; back on known-good generation ${p.revertedTo}${skippedText(p)}${pids(p)}`;
    case "failed":
      return `FAILED     ${p.name}: ${p.reason}; ${p.revertProblem}${skippedText(p)}`;
    case "skipped":
      return `skipped    ${p.name}: ${p.reason}`;
    case "unfinished":
      return `unfinished ${p.name}: ${p.state} when the roll stopped`;
    default:
      return `untouched  ${p.name}`;
  }
}

/** The text summary of one roll. */
export function reportText(r: RollReport): string[] {
  const count = (o: ProfileOutcome) => r.profiles.filter((p) => p.outcome === o).length;
  const batches = r.plan.map((b) => `[${b.names.join(" ")}]`).join(" ");
  const o = r.options;
  const head = {
    completed: `roll completed: ${count("rolled")} rolled`,
    halted: `roll HALTED: ${count("reverted")} reverted, ${count("failed")} failed, ${count("untouched")} untouched`,
    interrupted: `roll interrupted: ${count("rolled")} rolled, ${count("untouched") + count("unfinished")} not yet; \`profiles roll\` finishes it`,
    planned: r.resumed ? "would finish the interrupted roll first:" : `roll plan: ${r.profiles.length} profile(s) in ${r.plan.length} batch(es)`,
  }[r.outcome];
  const lines = [
    `${r.resumed ? "resumed " : ""}${head}`,
    `  batches ${batches}; healthy for ${secondsText(o.minHealthyTime * 1000)} within ${secondsText(o.healthyDeadline * 1000)}, progress deadline ${o.progressDeadline ? secondsText(o.progressDeadline * 1000) : "none"}, ${o.autoRevert ? "auto-revert" : "no auto-revert"}`,
  ];
  if (r.outcome !== "planned") for (const p of r.profiles) lines.push(`  ${profileLine(p)}`);
  else r.plan.forEach((b, i) => lines.push(`  ${batchLabel(r.plan, i)}: ${b.names.map((n) => (r.resumed ? `${n} (${stateOf(r, n)})` : n)).join(", ")}`));
  return lines;
}

function stateOf(r: RollReport, name: string): string {
  return r.profiles.find((p) => p.name === name)?.state ?? "pending";
}

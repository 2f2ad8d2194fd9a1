/** The order of a roll: which profiles restart together, as a pure function of names and flags. */

/** One step of a roll: every profile in it restarts at once, and the next step waits for all of them. */
export interface PlanBatch {
  /** `canary`: the first batch, of --canary profiles; `batch`: the rest, --max-parallel at a time. */
  kind: "canary" | "batch";
  names: string[];
}

/** Batches in the order they run. */
export type RollPlan = PlanBatch[];

/**
 * Split `names` (already in roll order) into one canary batch of `canary` profiles (none when 0), then
 * batches of `maxParallel`. A canary count above the number of profiles makes every profile a canary.
 */
export function planRoll(names: readonly string[], opts: { canary: number; maxParallel: number }): RollPlan {
  const plan: RollPlan = [];
  const canaries = names.slice(0, opts.canary);
  if (canaries.length > 0) plan.push({ kind: "canary", names: canaries });
  for (let i = canaries.length; i < names.length; i += opts.maxParallel) {
    plan.push({ kind: "batch", names: names.slice(i, i + opts.maxParallel) });
  }
  return plan;
}

/** "batch 2/3" or "canary batch 1/3", for progress lines. */
export function batchLabel(plan: RollPlan, index: number): string {
  const b = plan[index];
  return `${b?.kind === "canary" ? "canary batch" : "batch"} ${index + 1}/${plan.length}`;
}

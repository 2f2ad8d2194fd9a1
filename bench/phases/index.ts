/** The bench's phases, one table: what each runs and which phases it needs before it. */
import type { BenchContext } from "../context.js";
import { addPhase } from "./add.js";
import { fleetPhase } from "./fleet.js";
import { listPhase } from "./list.js";
import { rollPhase } from "./roll.js";
import { sweepPhase } from "./sweep.js";
import { topPhase } from "./top.js";

/**
 * The phases in the order they run. The local ones grow the same set of profiles (20, 50, 99, 200), so
 * each needs those it names; the fleet starts hosts of its own.
 */
export const PHASES = [
  { name: "roll", run: rollPhase, needs: [] },
  { name: "list", run: listPhase, needs: ["roll"] },
  // On the list phase's 50 running profiles, before the add phase grows them.
  { name: "top", run: topPhase, needs: ["list"] },
  { name: "add", run: addPhase, needs: ["list"] },
  { name: "sweep", run: sweepPhase, needs: ["add"] },
  { name: "fleet", run: fleetPhase, needs: [] },
] as const satisfies ReadonlyArray<{ name: string; run: (ctx: BenchContext) => Promise<void>; needs: readonly string[] }>;

/** The phases `--phases` names (all when it is absent), each with those it needs; an unknown name is an error. */
export function choosePhases(text: string | undefined): Set<string> {
  const known = new Map<string, readonly string[]>(PHASES.map((p) => [p.name, p.needs]));
  const chosen = new Set(text === undefined ? known.keys() : text.split(",").map((n) => n.trim()).filter((n) => n !== ""));
  for (const name of chosen) {
    const needs = known.get(name);
    if (!needs) throw new Error(`--phases: no phase "${name}" (the phases: ${[...known.keys()].join(", ")})`);
    for (const n of needs) chosen.add(n);
  }
  return chosen;
}

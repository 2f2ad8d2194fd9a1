/** What must hold before import changes anything: each port one profile's, each unique value one profile's. */
import type { Config } from "../../config.js";
import { PortTakenError } from "../../errors.js";
import type { Paths } from "../../paths.js";
import { recordedPorts } from "../../store/profiles.js";
import type { Context } from "../context.js";
import { unitPortHolder } from "../port-owner.js";
import { assertDistinctValues, otherProfiles } from "../unique-values.js";
import type { OldProfile } from "./discover.js";

/**
 * Refuse (exit 5, nothing changed) two old profiles on one port (naming both), a port a profile of ours
 * records, or one a process other than the old unit's own listens on.
 */
export async function assertPortsFree(ctx: Context, config: Config, found: readonly OldProfile[]): Promise<void> {
  const byPort = new Map<number, OldProfile>();
  for (const p of found) {
    const other = byPort.get(p.port);
    if (other) {
      throw new PortTakenError(p.port, `both "${other.name}" (${other.unit}) and "${p.name}" (${p.unit}): two old profiles on one port`, `give one of them another ${config.portVar} in its .env (${p.source}), or import the others by name`);
    }
    byPort.set(p.port, p);
  }
  const recorded = await recordedPorts(ctx.paths, config.portVar);
  for (const p of found) {
    const ours = recorded.get(p.port);
    if (ours !== undefined) throw new PortTakenError(p.port, `profile "${ours}", which this tool already runs ("${p.name}" records it in ${p.source})`, `give "${p.name}" another ${config.portVar}, or \`profiles set ${ours} ${config.portVar}=N\``);
    // The old unit listening on its own port is what is being taken over; anyone else is a collision.
    const held = await unitPortHolder(ctx, p.unit, p.port, p.mainPid || null);
    if (held.status === "foreign") throw new PortTakenError(p.port, `${held.holder}, not by ${p.unit}`, `stop that process, or give "${p.name}" another ${config.portVar}`);
  }
}

/** Refuse (exit 5) a value of a `[unique]` key that two profiles would share, among the imported ones and ours; never the value. */
export async function assertUniqueAmong(paths: Paths, config: Config, found: readonly OldProfile[]): Promise<void> {
  if (config.uniqueKeys.length === 0) return;
  const all = [...(await otherProfiles(paths, new Set())), ...found.map((p) => [p.name, p.entries] as [string, typeof p.entries])];
  for (const p of found) assertDistinctValues(config.uniqueKeys, all, p.name);
}

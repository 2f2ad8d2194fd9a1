/** The sweep's look at one profile: health, who holds its port, drift, restarts since the last sweep. */
import type { Config } from "../../config.js";
import { AppError } from "../../errors.js";
import type { PortInspector } from "../../ports/types.js";
import type { ProcessInspector } from "../../processes/inspector.js";
import type { Context } from "../context.js";
import { heldText, portHolder, unitClaim } from "../port-owner.js";
import { driftOf } from "./drift.js";
import { observeHealth, type UnitsNow } from "./unit-health.js";
import { restartsSince, type ProfileMemory } from "./state.js";
import type { SweepProfile } from "./types.js";
import type { StartLimits } from "./unit-condition.js";

/**
 * Look at one profile; `units` is one look at all the profiles' units (unitsNow), `ports` a
 * snapshot of the listeners shared by the whole pass, `last` the previous sweep's memory of it.
 */
export async function lookAt(
  ctx: Context, config: Config, limits: StartLimits, procs: ProcessInspector, ports: PortInspector, name: string, units: UnitsNow, last: ProfileMemory | undefined,
): Promise<SweepProfile> {
  const obs = await observeHealth(ctx, config, limits, name, units);
  const since = restartsSince(last, obs.nRestarts);
  const p: SweepProfile = {
    ...obs,
    portHolder: null,
    restartsSinceLastSweep: since,
    restartsTotal: (last?.restartsTotal ?? 0) + since,
    drift: null,
    before: null,
    action: null,
    markedKnownGood: null,
    notes: [],
  };
  if (obs.port !== null) {
    p.portHolder = await portHolder(ports, procs, obs.port, unitClaim(await ctx.systemd(), obs.unit, obs.mainPid));
    if (p.portHolder.status === "foreign") {
      p.problems.push(heldText(obs.port, p.portHolder.holder, obs.unit));
      p.healthy = false;
    }
  }
  try {
    p.drift = await driftOf(ctx.paths, procs, name, obs.condition === "running" ? obs.mainPid : null);
    if (p.drift.drifted) p.notes.push(`its .env differs from known-good generation ${p.drift.knownGood} (\`profiles diff ${name}\`)`);
    if (p.drift.pendingRestart) p.notes.push("its .env changed after the gateway started: restart it to apply");
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    p.notes.push(`generations unreadable: ${err.message}`);
  }
  return p;
}

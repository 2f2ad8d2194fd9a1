/** Ports of profiles: `add`'s collision rules for `start` and for moving a profile to another port. */
import type { Config } from "../config.js";
import { PortTakenError } from "../errors.js";
import { recordedPorts } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";
import { unitPortHolder } from "./port-owner.js";

/**
 * Refuse `port` for profile `name` when another profile records it (running or not) or a process that
 * is not the profile's own unit listens on it. The profile's own gateway listening there (before a
 * restart; a port changed without a restart and now changed back) is no collision.
 */
export async function assertPortFor(ctx: Context, config: Config, name: string, port: number, hint?: string): Promise<void> {
  const owner = (await recordedPorts(ctx.paths, config.portVar, name)).get(port);
  if (owner !== undefined) throw new PortTakenError(port, `profile "${owner}"`, hint);
  const unit = unitName(name);
  const held = await unitPortHolder(ctx, unit, port, (await (await ctx.systemd()).runState(unit)).mainPid);
  if (held.status === "foreign") throw new PortTakenError(port, held.holder, hint);
}

/** Ports of profiles: `add`'s collision rules for `start` and for moving a profile to another port. */
import type { Config } from "../config.js";
import { PortTakenError } from "../errors.js";
import { acquireLock, PROFILE_LOCK_WAIT_MS, withProfileLock } from "../store/lock.js";
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

/**
 * Refuse moving profile `name` from port `from` to `to` by `assertPortFor`'s rules; keeping one's port
 * is no move. Callers hold the "ports" lock until the new port is written.
 */
export async function assertPortChange(ctx: Context, config: Config, name: string, from: number | null, to: number): Promise<void> {
  if (from === to) return;
  await assertPortFor(ctx, config, name, to);
}

/**
 * Run `fn` holding the "ports" lock (when `ports`) and then the profile's lock: the order every command
 * that may change a recorded port takes them in, so that none waits on another in a circle.
 */
export async function withEnvLocks<T>(ctx: Context, name: string, command: string, ports: boolean, fn: () => Promise<T>): Promise<T> {
  if (!ports) return withProfileLock(ctx.paths.locksDir, name, command, fn);
  const lock = await acquireLock(ctx.paths.locksDir, "ports", command, PROFILE_LOCK_WAIT_MS);
  try {
    return await withProfileLock(ctx.paths.locksDir, name, command, fn);
  } finally {
    await lock.release();
  }
}

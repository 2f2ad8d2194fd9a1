/** Moving a profile to another port, with the same collision rules as `add`. */
import type { Config } from "../config.js";
import { PortTakenError } from "../errors.js";
import { describeListener } from "../ports/describe.js";
import { acquireLock, PROFILE_LOCK_WAIT_MS, withProfileLock } from "../store/lock.js";
import { recordedPorts } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";

/**
 * Refuse moving profile `name` from port `from` to `to` when another profile records `to` or another
 * process listens on it. Keeping one's port is no move; the profile's own gateway still listening on
 * `to` (the port was changed without a restart and is now changed back) is no collision. Callers hold
 * the "ports" lock until the new port is written.
 */
export async function assertPortChange(ctx: Context, config: Config, name: string, from: number | null, to: number): Promise<void> {
  if (from === to) return;
  const owner = (await recordedPorts(ctx.paths, config.portVar)).get(to);
  if (owner !== undefined && owner !== name) throw new PortTakenError(to, `profile "${owner}"`);
  const listener = await (await ctx.ports()).listener(to);
  if (!listener) return;
  if (listener.pid !== undefined && listener.pid === (await (await ctx.systemd()).state(unitName(name))).mainPid) return;
  throw new PortTakenError(to, describeListener(listener));
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

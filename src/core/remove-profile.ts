/** Removing a profile: `remove`, and each profile `apply --prune` removes. */
import path from "node:path";
import { SystemdError } from "../errors.js";
import { ensureDir } from "../store/atomic.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";
import { retireLogs } from "./logs/rotate.js";
import { withProfile } from "./transaction.js";

/**
 * Stop and disable profile `name`'s unit, then delete the profile, under its lock (a roll or a set working
 * on it finishes its step first). Where its `.env` is kept (null when `purge`), and its log files (`init
 * --log-dir`), kept beside it with its time stamp ([] when `purge`).
 */
export async function removeProfile(ctx: Context, name: string, purge: boolean, command: string): Promise<{ keptEnv: string | null; keptLogs: string[] }> {
  return withProfile(ctx, name, { command }, async (tx) => {
    const sd = await ctx.systemd();
    const unit = unitName(name);
    const job = await sd.stop(unit, { timeoutMs: 60_000 });
    if (job !== "done") throw new SystemdError(`${name}: the stop job ended "${job}"; the profile was kept`, undefined, `run \`profiles status ${name}\``);
    await sd.disable([unit]);
    await sd.resetFailed(unit);
    const keptEnv = await tx.remove(purge);
    // Stopped: nothing writes to them any more.
    const stamp = keptEnv ? path.basename(keptEnv).slice(name.length + 1, -".env".length) : "";
    if (!purge) await ensureDir(ctx.paths.removedDir, 0o700);
    return { keptEnv, keptLogs: await retireLogs(await ctx.config(), ctx.paths.removedDir, name, stamp, purge) };
  });
}

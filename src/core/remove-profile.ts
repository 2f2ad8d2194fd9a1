/** Removing a profile: `remove`, and each profile `apply --prune` removes. */
import { SystemdError } from "../errors.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";
import { withProfile } from "./transaction.js";

/**
 * Stop and disable profile `name`'s unit, then delete the profile, under its lock (a roll or a set working
 * on it finishes its step first). Where its `.env` is kept (null when `purge`).
 */
export async function removeProfile(ctx: Context, name: string, purge: boolean, command: string): Promise<string | null> {
  return withProfile(ctx, name, { command }, async (tx) => {
    const sd = await ctx.systemd();
    const unit = unitName(name);
    const job = await sd.stop(unit, { timeoutMs: 60_000 });
    if (job !== "done") throw new SystemdError(`${name}: the stop job ended "${job}"; the profile was kept`, undefined, `run \`profiles status ${name}\``);
    await sd.disable([unit]);
    await sd.resetFailed(unit);
    return tx.remove(purge);
  });
}

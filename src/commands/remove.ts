import path from "node:path";
import { retireLogs } from "../core/logs/rotate.js";
import { withProfile } from "../core/transaction.js";
import { ensureDir } from "../store/atomic.js";
import { SystemdError } from "../errors.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

/** What `remove` did: where the `.env` was kept, or null when purged. */
export interface RemoveResult {
  name: string;
  removed: true;
  keptEnv: string | null;
  /** Its log files (`init --log-dir`) where they were kept; [] when purged or there were none. */
  keptLogs: string[];
}

/** `remove`'s text for people. */
export function renderRemove(r: RemoveResult): string {
  const logs = r.keptLogs.length > 0 ? `\nits log file(s) are kept at ${r.keptLogs.join(", ")}` : "";
  return (r.keptEnv ? `removed ${r.name}; its .env is kept at ${r.keptEnv}` : `removed ${r.name}, its .env and its log files`) + logs;
}

export default defineCommand<{ name: string; purge: boolean }>({
  command: ["remove <name>", "rm <name>"],
  describe: "Stop, disable and delete a profile (its .env and log files are kept unless --purge)",
  options: [name()],
  needs: { config: true, profiles: "name", manager: true },
  builder: (y) =>
    y
      .option("purge", { type: "boolean", default: false, describe: "Delete the .env and the log files too instead of keeping them" }),
  async run(args, ctx) {
    const name = args.name;
    // Under the profile's lock: a roll or a set working on it finishes its step first.
    const kept = await withProfile(ctx, name, { command: `profiles remove ${name}` }, async (tx) => {
      const sd = await ctx.systemd();
      const unit = unitName(name);
      const job = await sd.stop(unit, { timeoutMs: 60_000 });
      if (job !== "done") throw new SystemdError(`${name}: the stop job ended "${job}"; the profile was kept`, undefined, `run \`profiles status ${name}\``);
      await sd.disable([unit]);
      await sd.resetFailed(unit);
      const keptEnv = await tx.remove(args.purge);
      // Stopped: nothing writes to them any more. Kept with the .env's time stamp, beside it.
      const stamp = keptEnv ? path.basename(keptEnv).slice(name.length + 1, -".env".length) : "";
      if (!args.purge) await ensureDir(ctx.paths.removedDir, 0o700);
      return { keptEnv, keptLogs: await retireLogs(await ctx.config(), ctx.paths.removedDir, name, stamp, args.purge) };
    });
    const data: RemoveResult = { name, removed: true, ...kept };
    return { data, text: renderRemove(data) };
  },
});

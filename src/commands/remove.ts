import { withProfile } from "../core/transaction.js";
import { SystemdError } from "../errors.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

/** What `remove` did: where the `.env` was kept, or null when purged. */
export interface RemoveResult {
  name: string;
  removed: true;
  keptEnv: string | null;
}

/** `remove`'s text for people. */
export function renderRemove(r: RemoveResult): string {
  return r.keptEnv ? `removed ${r.name}; its .env is kept at ${r.keptEnv}` : `removed ${r.name} and its .env`;
}

export default defineCommand<{ name: string; purge: boolean }>({
  command: ["remove <name>", "rm <name>"],
  describe: "Stop, disable and delete a profile (its .env is kept unless --purge)",
  options: [name()],
  needs: { config: true, profiles: "name", manager: true },
  builder: (y) =>
    y
      .option("purge", { type: "boolean", default: false, describe: "Delete the .env too instead of keeping a copy" }),
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
      return tx.remove(args.purge);
    });
    const data: RemoveResult = { name, removed: true, keptEnv: kept };
    return { data, text: renderRemove(data) };
  },
});

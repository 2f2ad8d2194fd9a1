import { assertProfileName } from "../store/names.js";
import { withProfile } from "../core/transaction.js";
import { assertProfileExists } from "../store/profiles.js";
import { SystemdError } from "../errors.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";

export default defineCommand<{ name: string; purge: boolean }>({
  command: ["remove <name>", "rm <name>"],
  describe: "Stop, disable and delete a profile (its .env is kept unless --purge)",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .option("purge", { type: "boolean", default: false, describe: "Delete the .env too instead of keeping a copy" }),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    await assertProfileExists(ctx.paths, name);
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
    return {
      data: { name, removed: true, keptEnv: kept },
      text: kept ? `removed ${name}; its .env is kept at ${kept}` : `removed ${name} and its .env`,
    };
  },
});

import { removeProfile } from "../core/remove-profile.js";
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
    const kept = await removeProfile(ctx, name, args.purge, `profiles remove ${name}`);
    const data: RemoveResult = { name, removed: true, ...kept };
    return { data, text: renderRemove(data) };
  },
});

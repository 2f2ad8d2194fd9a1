import { removeProfile } from "../core/remove-profile.js";
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
    const kept = await removeProfile(ctx, name, args.purge, `profiles remove ${name}`);
    const data: RemoveResult = { name, removed: true, keptEnv: kept };
    return { data, text: renderRemove(data) };
  },
});

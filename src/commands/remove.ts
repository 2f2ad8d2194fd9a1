import { removeProfileOrUnit } from "../core/remove-profile.js";
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
  /** NAME was no profile, only an enabled or running unit of the template (a killed `add` leaves one): stopped and disabled. */
  strayUnit: boolean;
}

/** `remove`'s text for people. */
export function renderRemove(r: RemoveResult): string {
  if (r.strayUnit) return `${r.name} was no profile, but its unit ${unitName(r.name)} was enabled or running: stopped and disabled it`;
  const logs = r.keptLogs.length > 0 ? `\nits log file(s) are kept at ${r.keptLogs.join(", ")}` : "";
  return (r.keptEnv ? `removed ${r.name}; its .env is kept at ${r.keptEnv}` : `removed ${r.name}, its .env and its log files`) + logs;
}

export default defineCommand<{ name: string; purge: boolean }>({
  command: ["remove <name>", "rm <name>"],
  describe: "Stop, disable and delete a profile (its .env and log files are kept unless --purge)",
  options: [name()],
  // A name that is no profile may still have a unit to clean up (removeProfileOrUnit); it says when not.
  needs: { config: true, profiles: "none", manager: false },
  builder: (y) =>
    y
      .option("purge", { type: "boolean", default: false, describe: "Delete the .env and the log files too instead of keeping them" }),
  async run(args, ctx) {
    const name = args.name;
    const kept = await removeProfileOrUnit(ctx, name, args.purge, `profiles remove ${name}`);
    const data: RemoveResult = { name, removed: true, ...kept };
    return { data, text: renderRemove(data) };
  },
});

import { parseGeneration, waitMs } from "../core/cli-args.js";
import { rollbackProfile } from "../core/rollback.js";
import { corruptionText } from "../store/generations.js";
import { assertProfileName } from "../store/names.js";
import { unmarkedLines } from "../render/known-good.js";
import { defineCommand } from "./command.js";

export default defineCommand<{ name: string; to?: string; restart: boolean; wait: number }>({
  command: "rollback <name>",
  describe: "Restore an earlier generation of a profile's .env (as a new generation), restart it, check health",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .option("to", { type: "string", describe: "Generation to restore (default: the newest known-good one older than the current)" })
      .option("restart", { type: "boolean", default: true, describe: "Restart and wait until healthy (--no-restart: only restore the file)" })
      .option("wait", { type: "number", default: 30, describe: "Seconds to wait for health" })
      .example("$0 rollback liam", "back to the last generation liam was healthy with")
      .example("$0 rollback liam --to 3", "restore generation 3 (see `profiles history liam`)")
      .example("$0 rollback liam --no-restart", "only put the file back"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    const to = args.to === undefined ? undefined : parseGeneration(args.to, name, "--to");
    const ms = waitMs(args.wait);
    const r = await rollbackProfile(ctx, name, { to, restart: args.restart, waitMs: ms });
    const what = r.generation === null ? `${name}: generation ${r.to} is already current` : `${name}: restored generation ${r.to} as generation ${r.generation}`;
    const then = r.restarted
      ? `restarted: healthy (pid ${r.pid}, ${r.elapsedMs} ms)`
      : r.generation === null
        ? "nothing written"
        : `takes effect when it next restarts: \`profiles restart ${name}\``;
    const skipped = (r.skipped ?? []).map((c) => `${name}: skipped generation ${c.number}, corrupt: ${corruptionText(c)}`);
    return { data: r, text: [...skipped, `${what}; ${then}`, ...unmarkedLines(r.knownGood)].join("\n") };
  },
});

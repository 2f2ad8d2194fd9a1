import { changeEnv, type EnvChangeResult } from "../core/env-change.js";
import { parseEnvArgs } from "../core/env-args.js";
import { waitMs } from "../core/cli-args.js";
import { assertProfileName } from "../store/names.js";
import { unmarkedLines } from "../render/known-good.js";
import { defineCommand, type CommandResult } from "./command.js";

/** How `set` and `unset` report a change; never a value, only keys. */
export function renderChange(verb: "set" | "unset", r: EnvChangeResult): CommandResult {
  const head = r.generation === null ? `${r.name}: no change (the .env already says that); nothing written` : `${verb} ${r.changed.join(", ")} on ${r.name} (generation ${r.generation})`;
  const tail = r.restarted
    ? `restarted: healthy (pid ${r.pid}, ${r.elapsedMs} ms)`
    : r.generation === null
      ? ""
      : `takes effect when it next restarts: \`profiles restart ${r.name}\` (or \`profiles roll ${r.name}\`)`;
  return { data: r, text: [tail ? `${head}; ${tail}` : head, ...unmarkedLines(r.knownGood)].join("\n") };
}

export default defineCommand<{ name: string; pairs: string[]; restart: boolean; wait: number }>({
  command: "set <name> <pairs..>",
  describe: "Set keys in a profile's .env (kept as a new generation); --restart applies it and checks health",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .positional("pairs", { type: "string", array: true, describe: "KEY=VALUE, the value taken exactly as given" })
      .option("restart", { type: "boolean", default: false, describe: "Restart the profile and wait until it is healthy" })
      .option("wait", { type: "number", default: 30, describe: "Seconds to wait for health with --restart" })
      .example("$0 set liam LOG_LEVEL=debug", "takes effect at the next restart")
      .example("$0 set liam API_KEY=s3cret --restart", "restart now; exit 7 if it is not healthy")
      .example("$0 set liam PORT=8650 --restart", "move to another port (checked like add)"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    const set = parseEnvArgs(args.pairs, "set");
    const ms = waitMs(args.wait);
    return renderChange("set", await changeEnv(ctx, name, { set, unset: [] }, { verb: "set", restart: args.restart, waitMs: ms }));
  },
});

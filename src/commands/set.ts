import { changeEnv } from "../core/env-change.js";
import { parseEnvArgs } from "../core/env-args.js";
import { renderEnvChange } from "../render/env-change.js";
import { defineCommand } from "./command.js";
import { name, restartAfterChange, wait } from "./options.js";

export default defineCommand<{ name: string; pairs: string[]; restart: boolean; wait: number }, Map<string, string>>({
  command: "set <name> <pairs..>",
  describe: "Set keys in a profile's .env (kept as a new generation); --restart applies it and checks health",
  options: [name(), restartAfterChange, wait("Seconds to wait for health with --restart")],
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .positional("pairs", { type: "string", array: true, describe: "KEY=VALUE, the value taken exactly as given" })
      .example("$0 set liam LOG_LEVEL=debug", "takes effect at the next restart")
      .example("$0 set liam API_KEY=s3cret --restart", "restart now; exit 7 if it is not healthy")
      .example("$0 set liam PORT=8650 --restart", "move to another port (checked like add)"),
  parse: (args) => parseEnvArgs(args.pairs, "set"),
  async run(args, ctx, set) {
    const r = await changeEnv(ctx, args.name, { set, unset: [] }, { verb: "set", restart: args.restart, waitMs: args.wait * 1000 });
    return { data: r, text: renderEnvChange("set", r) };
  },
});

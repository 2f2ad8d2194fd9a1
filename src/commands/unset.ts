import { waitMs } from "../core/cli-args.js";
import { changeEnv } from "../core/env-change.js";
import { UsageError } from "../errors.js";
import { keyProblem } from "../store/envfile.js";
import { assertProfileName } from "../store/names.js";
import { defineCommand } from "./command.js";
import { renderChange } from "./set.js";

export default defineCommand<{ name: string; keys: string[]; restart: boolean; wait: number }>({
  command: "unset <name> <keys..>",
  describe: "Remove keys from a profile's .env (kept as a new generation); --restart applies it and checks health",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .positional("keys", { type: "string", array: true, describe: "Keys to remove (each must be in the .env)" })
      .option("restart", { type: "boolean", default: false, describe: "Restart the profile and wait until it is healthy" })
      .option("wait", { type: "number", default: 30, describe: "Seconds to wait for health with --restart" })
      .example("$0 unset liam LOG_LEVEL", "takes effect at the next restart")
      .example("$0 unset liam HOST API_KEY --restart", "restart now; exit 7 if it is not healthy"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    const keys = args.keys.map(String);
    for (const [i, k] of keys.entries()) {
      // Never echo a malformed argument, its key part included: it may be a secret typed by mistake.
      if (k.includes("=")) throw new UsageError(`unset: key ${i + 1} holds "=", so it gives a value (not shown); unset takes keys alone`, `run \`profiles unset ${name} KEY...\``);
      const problem = keyProblem(k);
      if (problem) throw new UsageError(`unset: key ${i + 1} ${problem} (it is not shown, in case it is a secret)`);
    }
    const ms = waitMs(args.wait);
    return renderChange("unset", await changeEnv(ctx, name, { set: new Map(), unset: keys }, { verb: "unset", restart: args.restart, waitMs: ms }));
  },
});

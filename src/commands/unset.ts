import { changeEnv } from "../core/env-change.js";
import { UsageError } from "../errors.js";
import { renderEnvChange } from "../render/env-change.js";
import { keyProblem } from "../store/envfile.js";
import { defineCommand } from "./command.js";
import { name, restartAfterChange, wait } from "./options.js";

/** The keys to remove, checked; a malformed one is never echoed: it may be a secret typed by mistake. */
function checkKeys(name: string, raw: string[]): string[] {
  const keys = raw.map(String);
  for (const [i, k] of keys.entries()) {
    if (k.includes("=")) throw new UsageError(`unset: key ${i + 1} holds "=", so it gives a value (not shown); unset takes keys alone`, `run \`profiles unset ${name} KEY...\``);
    const problem = keyProblem(k);
    if (problem) throw new UsageError(`unset: key ${i + 1} ${problem} (it is not shown, in case it is a secret)`);
  }
  return keys;
}

export default defineCommand<{ name: string; keys: string[]; restart: boolean; wait: number }, string[]>({
  command: "unset <name> <keys..>",
  describe: "Remove keys from a profile's .env (kept as a new generation); --restart applies it and checks health",
  options: [name(), restartAfterChange, wait("Seconds to wait for health with --restart")],
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .positional("keys", { type: "string", array: true, describe: "Keys to remove (each must be in the .env)" })
      .example("$0 unset liam LOG_LEVEL", "takes effect at the next restart")
      .example("$0 unset liam HOST API_KEY --restart", "restart now; exit 7 if it is not healthy"),
  parse: (args) => checkKeys(args.name, args.keys),
  async run(args, ctx, keys) {
    const r = await changeEnv(ctx, args.name, { set: new Map(), unset: keys }, { verb: "unset", restart: args.restart, waitMs: args.wait * 1000 });
    return { data: r, text: renderEnvChange("unset", r) };
  },
});

import { parseEnvArgs } from "../core/env-args.js";
import { envChangeVerb } from "./env-change-verb.js";

export default envChangeVerb({
  verb: "set",
  list: { key: "pairs", options: { type: "string", array: true, describe: "KEY=VALUE, the value taken exactly as given" } },
  describe: "Set keys in a profile's .env (kept as a new generation); --restart applies it and checks health",
  examples: [
    ["$0 set liam LOG_LEVEL=debug", "takes effect at the next restart"],
    ["$0 set liam API_KEY=s3cret --restart", "restart now; exit 7 if it is not healthy"],
    ["$0 set liam PORT=8650 --restart", "move to another port (checked like add)"],
  ],
  parse: (_name, pairs) => parseEnvArgs(pairs, "set"),
  change: (set) => ({ set, unset: [] }),
});

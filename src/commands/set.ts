import { changeEnv } from "../core/env-change.js";
import { envFileArg, parseEnvArgs, stdinValue } from "../core/env-args.js";
import { UsageError } from "../errors.js";
import { keyProblem } from "../store/envfile.js";
import { renderEnvChange } from "../render/env-change.js";
import { defineCommand } from "./command.js";
import { name, restartAfterChange, wait } from "./options.js";

interface SetArgs {
  name: string;
  pairs?: string[];
  stdin?: boolean;
  envFile?: string;
  restart: boolean;
  wait: number;
}

/** The keys to set: `K=V` pairs, a file's keys (the pairs win), or one KEY whose value comes from standard input. */
async function wanted(args: SetArgs): Promise<Map<string, string>> {
  const pairs = args.pairs ?? [];
  if (args.stdin) {
    if (pairs.length !== 1 || pairs[0]!.includes("=") || keyProblem(pairs[0]!)) {
      throw new UsageError("--stdin takes exactly one KEY (no =VALUE: the value comes from standard input)", `run \`profiles set ${args.name} KEY --stdin\``);
    }
    return new Map([[pairs[0]!, await stdinValue(pairs[0]!)]]);
  }
  if (pairs.length === 0 && args.envFile === undefined) throw new UsageError("set needs KEY=VALUE pairs, --env-file FILE or KEY --stdin", `run \`profiles set ${args.name} KEY=VALUE\``);
  const fromFile = args.envFile === undefined ? new Map<string, string>() : envFileArg(args.envFile);
  return new Map([...fromFile, ...parseEnvArgs(pairs, "set")]);
}

export default defineCommand<SetArgs, Map<string, string>>({
  command: "set <name> [pairs..]",
  describe: "Set keys in a profile's .env (kept as a new generation); --restart applies it and checks health",
  options: [name(), restartAfterChange, wait("Seconds to wait for health with --restart")],
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .positional("pairs", { type: "string", array: true, describe: "KEY=VALUE, the value taken exactly as given (with --stdin: KEY alone)" })
      .option("stdin", { type: "boolean", default: false, describe: "Read the value of the one KEY given from standard input (from a terminal: typed without echo)" })
      .option("env-file", { type: "string", describe: "Set the keys of FILE (EnvironmentFile= syntax); KEY=VALUE pairs given too win" })
      .example("$0 set liam LOG_LEVEL=debug", "takes effect at the next restart")
      .example("$0 set liam API_KEY=s3cret --restart", "restart now; exit 7 if it is not healthy")
      .example("$0 set liam PORT=8650 --restart", "move to another port (checked like add)")
      .example("$0 set liam API_KEY --stdin < key.txt", "a secret that never appears on a command line")
      .example("$0 set liam --env-file secrets.env", "every key of a file"),
  parse: wanted,
  async run(args, ctx, set) {
    const r = await changeEnv(ctx, args.name, { set, unset: [] }, { verb: "set", restart: args.restart, waitMs: args.wait * 1000 });
    return { data: r, text: renderEnvChange("set", r) };
  },
});

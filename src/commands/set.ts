import { envFileArg, parseEnvArgs, stdinValue } from "../core/env-args.js";
import { UsageError } from "../errors.js";
import { keyProblem } from "../store/envfile.js";
import { envChangeVerb } from "./env-change-verb.js";

/** The keys to set: `K=V` pairs, a file's keys (the pairs win), or one KEY whose value comes from standard input. */
async function wanted(name: string, pairs: string[], args: Record<string, unknown>): Promise<Map<string, string>> {
  if (args.stdin) {
    if (pairs.length !== 1 || pairs[0]!.includes("=") || keyProblem(pairs[0]!)) {
      throw new UsageError("--stdin takes exactly one KEY (no =VALUE: the value comes from standard input)", `run \`profiles set ${name} KEY --stdin\``);
    }
    return new Map([[pairs[0]!, await stdinValue(pairs[0]!, name)]]);
  }
  const envFile = args.envFile as string | undefined;
  if (pairs.length === 0 && envFile === undefined) throw new UsageError("set needs KEY=VALUE pairs, --env-file FILE or KEY --stdin", `run \`profiles set ${name} KEY=VALUE\``);
  const fromFile = envFile === undefined ? new Map<string, string>() : envFileArg(envFile);
  return new Map([...fromFile, ...parseEnvArgs(pairs, "set")]);
}

export default envChangeVerb({
  verb: "set",
  list: { key: "pairs", options: { type: "string", array: true, describe: "KEY=VALUE, the value taken exactly as given (with --stdin: KEY alone)" } },
  optional: true,
  options: (y) =>
    y
      .option("stdin", { type: "boolean", default: false, describe: "Read the value of the one KEY given from standard input (from a terminal: typed without echo)" })
      .option("env-file", { type: "string", describe: "Set the keys of FILE (EnvironmentFile= syntax); KEY=VALUE pairs given too win" }),
  describe: "Set keys in a profile's .env (kept as a new generation); --restart applies it and checks health",
  parse: wanted,
  change: (set) => ({ set, unset: [] }),
});

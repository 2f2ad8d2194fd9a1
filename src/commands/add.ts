import { addProfile, type AddResult } from "../core/add-profile.js";
import { envFileArg, parseEnvArgs } from "../core/env-args.js";
import { parsePort } from "../core/port-allocation.js";
import { deferStopSignals } from "../core/stop-signals.js";
import { UsageError } from "../errors.js";
import { unmarkedLines } from "../render/known-good.js";
import { defineCommand } from "./command.js";
import { name, NAME_WITH_RULE, wait } from "./options.js";

interface AddArgs {
  name: string;
  port?: string;
  env?: string[];
  envFile?: string;
  start: boolean;
  wait: number;
}

export type { AddResult };

/** `add`'s text for people. */
export function renderAdd(r: AddResult): string {
  if (!r.started) return `added ${r.name} on port ${r.port} (not started: run \`profiles start ${r.name}\`)`;
  return [`added ${r.name}: healthy on port ${r.port} (pid ${r.pid}, ${r.elapsedMs} ms)`, ...unmarkedLines(r.knownGood)].join("\n");
}

export default defineCommand<AddArgs, { requested: number | undefined; extra: Map<string, string> }>({
  command: "add <name>",
  describe: "Create a profile (own port and .env), start it, wait until it is healthy",
  options: [name(NAME_WITH_RULE), wait("Seconds to wait for it to become healthy")],
  // A name that must not exist yet: its own check (exit 4), after the config.
  needs: { config: true, profiles: "none", manager: false },
  builder: (y) =>
    y
      .option("port", { type: "string", describe: "Port (1024-65535); default: the lowest free one in the configured range" })
      .option("env", { type: "string", array: true, describe: "KEY=VALUE to put in the .env (repeatable)" })
      .option("env-file", { type: "string", describe: "Put the keys of FILE (EnvironmentFile= syntax) in the .env; --env pairs win" })
      .option("start", { type: "boolean", default: true, describe: "Start it and wait until it is healthy (--no-start: write the .env and enable the unit, start nothing)" }),
  parse: (args) => ({ requested: args.port === undefined ? undefined : parsePort(args.port), extra: new Map([...(args.envFile === undefined ? [] : envFileArg(args.envFile)), ...parseEnvArgs(args.env ?? [], "--env")]) }),
  async run(args, ctx, { requested, extra }) {
    const name = args.name;
    const config = await ctx.config();
    if (extra.has(config.portVar)) throw new UsageError(`${config.portVar} (from --env or --env-file) sets the port: use --port instead`);
    const data = await deferStopSignals(ctx.notice, (stopSignal) =>
      addProfile(ctx, name, { port: requested ?? null, extra, enable: true, start: args.start, waitMs: args.wait * 1000, command: `profiles add ${name}`, stopSignal }),
    );
    return { data, text: renderAdd(data) };
  },
});

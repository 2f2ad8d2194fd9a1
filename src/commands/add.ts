import { parseEnvArgs } from "../core/env-args.js";
import { allocatePort, assertPortFree, parsePort } from "../core/port-allocation.js";
import { withProfile, type KnownGoodMark } from "../core/transaction.js";
import { ProfileExistsError, UsageError } from "../errors.js";
import { unmarkedLines } from "../render/known-good.js";
import { profileExists, recordedPorts } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { name, NAME_WITH_RULE, wait } from "./options.js";

interface AddArgs {
  name: string;
  port?: string;
  env?: string[];
  start: boolean;
  wait: number;
}

/** What `add` did: the profile, its port, and whether it was started and passed its gate. */
export interface AddResult {
  name: string;
  port: number;
  unit: string;
  started: boolean;
  healthy: boolean;
  elapsedMs: number;
  pid: number;
  knownGood: KnownGoodMark | null;
}

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
      .option("start", { type: "boolean", default: true, describe: "Start it (--no-start: write the .env and enable the unit, start nothing)" })
      .example("$0 add liam --port 8642", "a profile on a chosen port")
      .example("$0 add ops --env LOG_LEVEL=debug", "a port from the range, one extra setting"),
  parse: (args) => ({ requested: args.port === undefined ? undefined : parsePort(args.port), extra: parseEnvArgs(args.env ?? [], "--env") }),
  async run(args, ctx, { requested, extra }) {
    const name = args.name;
    const config = await ctx.config();
    if (extra.has(config.portVar)) throw new UsageError(`--env ${config.portVar}=... sets the port: use --port instead`);
    if (await profileExists(ctx.paths, name)) throw new ProfileExistsError(name);

    // Choosing a port and recording it is one step under the "ports" lock, or two parallel adds get the same port.
    return withProfile(ctx, name, { command: `profiles add ${name}`, ports: true, create: true }, async (tx) => {
      const recorded = await recordedPorts(ctx.paths, config.portVar);
      const inspector = await ctx.ports();
      let port: number;
      if (requested !== undefined) {
        await assertPortFree(requested, name, recorded, inspector);
        port = requested;
      } else {
        port = await allocatePort(config, recorded, inspector);
      }
      const entries = new Map([[config.portVar, String(port)], ...extra]);
      await tx.commitEntries(entries, "add");

      const data: AddResult = { name, port, unit: unitName(name), started: false, healthy: false, elapsedMs: 0, pid: 0, knownGood: null };
      // Enabled even with --no-start: only `profiles disable` keeps a profile down (and `start` refuses that one).
      const sd = await ctx.systemd();
      await sd.enable([unitName(name)]);
      if (!args.start) return { data, text: renderAdd(data) };
      ctx.progress(`starting ${unitName(name)} on port ${port}, waiting for ${config.healthPath} ...`);
      const { up, knownGood } = await tx.bringUp("start", args.wait * 1000);
      Object.assign(data, { started: true, healthy: true, elapsedMs: up.elapsedMs, pid: up.state.mainPid, knownGood });
      return { data, text: renderAdd(data) };
    });
  },
});

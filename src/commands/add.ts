import { parseEnvArgs } from "../core/env-args.js";
import { allocatePort, assertPortFree, parsePort } from "../core/port-allocation.js";
import { withProfile, type KnownGoodMark } from "../core/transaction.js";
import { ProfileExistsError, UsageError } from "../errors.js";
import { unmarkedLines } from "../render/known-good.js";
import { assertProfileName, NAME_RULE } from "../store/names.js";
import { profileExists, recordedPorts } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";

interface AddArgs {
  name: string;
  port?: string;
  env?: string[];
  start: boolean;
  wait: number;
}

export default defineCommand<AddArgs>({
  command: "add <name>",
  describe: "Create a profile (own port and .env), start it, wait until it is healthy",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: `Profile name: ${NAME_RULE}` })
      .option("port", { type: "string", describe: "Port (1024-65535); default: the lowest free one in the configured range" })
      .option("env", { type: "string", array: true, describe: "KEY=VALUE to put in the .env (repeatable)" })
      .option("start", { type: "boolean", default: true, describe: "Enable and start it (--no-start: only write the .env)" })
      .option("wait", { type: "number", default: 30, describe: "Seconds to wait for it to become healthy" })
      .example("$0 add liam --port 8642", "a profile on a chosen port")
      .example("$0 add ops --env LOG_LEVEL=debug", "a port from the range, one extra setting"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    const requested = args.port === undefined ? undefined : parsePort(args.port);
    const extra = parseEnvArgs(args.env ?? [], "--env");
    if (!Number.isFinite(args.wait) || args.wait <= 0) throw new UsageError(`--wait "${args.wait}" must be a positive number of seconds`);
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

      const data = { name, port, unit: unitName(name), started: false, healthy: false, elapsedMs: 0, pid: 0, knownGood: null as KnownGoodMark | null };
      if (!args.start) {
        return { data, text: `added ${name} on port ${port} (not started: run \`profiles start ${name}\`)` };
      }
      const sd = await ctx.systemd();
      await sd.enable([unitName(name)]);
      ctx.progress(`starting ${unitName(name)} on port ${port}, waiting for ${config.healthPath} ...`);
      const { up, knownGood } = await tx.bringUp("start", args.wait * 1000);
      Object.assign(data, { started: true, healthy: true, elapsedMs: up.elapsedMs, pid: up.state.mainPid, knownGood });
      return { data, text: [`added ${name}: healthy on port ${port} (pid ${up.state.mainPid}, ${up.elapsedMs} ms)`, ...unmarkedLines(knownGood)].join("\n") };
    });
  },
});

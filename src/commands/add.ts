import { bringUp } from "../core/bring-up.js";
import { parseEnvArgs } from "../core/env-args.js";
import { gateTarget } from "../core/health-target.js";
import { allocatePort, assertPortFree, parsePort } from "../core/ports.js";
import { ProfileExistsError, UsageError } from "../errors.js";
import { markKnownGood } from "../store/generations.js";
import { acquireLock } from "../store/lock.js";
import { assertProfileName, NAME_RULE } from "../store/names.js";
import { createProfile, profileExists, recordedPorts } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";

interface AddArgs {
  name: string;
  port?: string;
  env?: string[];
  start: boolean;
  wait: number;
}

/** How long `add` waits for another `add` holding the port lock. */
const LOCK_WAIT_MS = 30_000;

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

    // Choosing a port and recording it must be one step, or two parallel adds get the same port.
    const lock = await acquireLock(ctx.paths.locksDir, "ports", `profiles add ${name}`, LOCK_WAIT_MS);
    let port: number;
    const entries = new Map<string, string>();
    try {
      const recorded = await recordedPorts(ctx.paths, config.portVar);
      const inspector = await ctx.ports();
      if (requested !== undefined) {
        await assertPortFree(requested, name, recorded, inspector);
        port = requested;
      } else {
        port = await allocatePort(config, recorded, inspector);
      }
      entries.set(config.portVar, String(port));
      for (const [k, v] of extra) entries.set(k, v);
      await createProfile(ctx.paths, name, entries, config.keepGenerations);
    } finally {
      await lock.release();
    }

    const data = { name, port, unit: unitName(name), started: false, healthy: false, elapsedMs: 0, pid: 0 };
    if (!args.start) {
      return { data, text: `added ${name} on port ${port} (not started: run \`profiles start ${name}\`)` };
    }
    const sd = await ctx.systemd();
    await sd.enable([unitName(name)]);
    ctx.progress(`starting ${unitName(name)} on port ${port}, waiting for ${config.healthPath} ...`);
    const up = await bringUp(ctx, name, { deadlineMs: args.wait * 1000, target: gateTarget(ctx.paths, config, name, entries) });
    await markKnownGood(ctx.paths, name, config.keepGenerations);
    Object.assign(data, { started: true, healthy: true, elapsedMs: up.elapsedMs, pid: up.state.mainPid });
    return { data, text: `added ${name}: healthy on port ${port} (pid ${up.state.mainPid}, ${up.elapsedMs} ms)` };
  },
});

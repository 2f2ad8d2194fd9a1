/** Checks: no two profiles record one port, and no process but a profile's own unit holds its port. */
import fs from "node:fs/promises";
import type { Config } from "../../config.js";
import { RangeExhaustedError } from "../../errors.js";
import { envFile } from "../../paths.js";
import type { PortInspector } from "../../ports/types.js";
import { parseEnv } from "../../store/envfile.js";
import { portOf } from "../../store/profiles.js";
import { UNIT_PATTERN, unitName } from "../../systemd/types.js";
import { allocatePort } from "../port-allocation.js";
import { portHolder, unitClaim } from "../port-owner.js";
import { verdict, type Check, type Facts, type Problem } from "./types.js";

/** Each profile's recorded port, read leniently like `recordedPorts`: a .env broken by hand still claims its port. */
async function portsByProfile(f: Facts, portVar: string): Promise<Map<string, number>> {
  const ports = new Map<string, number>();
  for (const name of f.profiles) {
    const text = await fs.readFile(envFile(f.ctx.paths, name), "utf8").catch(() => "");
    const port = portOf(parseEnv(text).entries, portVar);
    if (port !== null) ports.set(name, port);
  }
  return ports;
}

/** Hands out distinct free ports for fixes, so that two suggested moves never pick the same port. */
function suggester(config: Config, byProfile: Map<string, number>, inspector: PortInspector): (name: string) => Promise<string> {
  const taken = new Map([...byProfile].map(([name, port]) => [port, name]));
  return async (name) => {
    try {
      const port = await allocatePort(config, taken, inspector);
      taken.set(port, name);
      return `profiles set ${name} ${config.portVar}=${port} --restart`;
    } catch (err) {
      if (err instanceof RangeExhaustedError) return "profiles init --range A-B   # a wider range, then move the profile to a free port";
      throw err;
    }
  };
}

export const sharedPortsCheck: Check<"config"> = {
  id: "ports-shared",
  title: "no two profiles share a port",
  needs: ["config"],
  async run(f, { config }) {
    const byProfile = await portsByProfile(f, config.portVar);
    const byPort = new Map<number, string[]>();
    for (const [name, port] of byProfile) byPort.set(port, [...(byPort.get(port) ?? []), name]);
    const suggest = suggester(config, byProfile, await f.ctx.ports());
    const problems: Problem[] = [];
    for (const [port, names] of byPort) {
      if (names.length < 2) continue;
      // The first one keeps the port; every other one moves.
      for (const name of names.slice(1)) {
        problems.push({ message: `port ${port} is recorded by ${names.join(", ")}: ${name} must move`, fix: await suggest(name) });
      }
    }
    return verdict(problems, `${byProfile.size} port(s), all distinct`);
  },
};

export const heldPortsCheck: Check<"bus" | "config"> = {
  id: "ports-held",
  title: "no foreign process holds a profile's port",
  needs: ["bus", "config"],
  async run(f, { bus: sd, config }) {
    const byProfile = await portsByProfile(f, config.portVar);
    const loaded = await sd.list([UNIT_PATTERN]);
    const mainPids = new Map(loaded.filter((s) => s.mainPid > 0).map((s) => [s.name, s.mainPid]));
    const inspector = await (await f.ctx.ports()).snapshot();
    const suggest = suggester(config, byProfile, inspector);
    const problems: Problem[] = [];
    for (const [name, port] of byProfile) {
      // The gates' and the sweep's rule: the unit's MainPID or a process in its cgroup is the unit's own.
      const held = await portHolder(inspector, f.procs, port, unitClaim(sd, unitName(name), mainPids.get(unitName(name)) ?? null));
      if (held.status !== "foreign") continue;
      const holder = [...byProfile.keys()].find((other) => held.pid !== null && mainPids.get(unitName(other)) === held.pid);
      if (holder !== undefined) {
        // Two profiles recording this port is the shared-port check's finding; one that moved but kept running is this one's.
        if (byProfile.get(holder) === port) continue;
        const now = byProfile.get(holder);
        problems.push({
          message: `port ${port} of ${name} is held by ${holder}'s gateway (pid ${held.pid}), whose .env ${now === undefined ? "records no port" : `now records port ${now}`}`,
          fix: `profiles restart ${holder}`,
        });
        continue;
      }
      problems.push({ message: `port ${port} of ${name} is held by ${held.holder}, not by ${unitName(name)}`, fix: await suggest(name) });
    }
    return verdict(problems, `${byProfile.size} port(s), none held by a foreign process`);
  },
};

/** Whether a command runs on other hosts: the parsed `--host`, `--hosts-file` and the fleet roll's pacing. */
import { UsageError } from "../errors.js";
import { chooseHosts, type Host } from "./hosts.js";

const PACING = ["canaryHosts", "maxParallelHosts", "maxFailPercent"] as const;

/** The hosts to run on, or null to run here; pacing flags without hosts are refused (exit 2). */
export function fleetHosts(args: Record<string, unknown>): Host[] | null {
  const given = (args.host as string[] | undefined) ?? [];
  const file = args.hostsFile as string | undefined;
  if (given.length === 0 && file === undefined) {
    const pacing = PACING.find((k) => args[k] !== undefined);
    if (pacing) throw new UsageError(`--${pacing.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} paces a roll across hosts: give --host or --hosts-file too`);
    return null;
  }
  if (file === "") throw new UsageError("--hosts-file needs a file");
  return chooseHosts(given, file);
}

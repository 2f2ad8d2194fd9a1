import type { Config } from "../config.js";
import type { Paths } from "../paths.js";
import type { ProbeTarget } from "../probe/types.js";
import type { EnvEntries } from "../store/envfile.js";
import { readProfileSettings, type ProfileSettings } from "../store/profile-settings.js";
import { portOf } from "../store/profiles.js";

// A gateway bound to every address answers on loopback; probing a wildcard address would not connect.
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "localhost"]);

/**
 * Where a profile's health probe goes: its host (config.ini's host variable, HOST by default) (loopback for wildcards), its port, the health path and
 * probe kind of config.ini unless the profile's own settings (`profile.ini`) override them.
 */
export function healthTarget(config: Config, entries: EnvEntries, timeoutMs?: number, own: ProfileSettings = {}): ProbeTarget | null {
  const port = portOf(entries, config.portVar);
  if (port === null) return null;
  const host = entries.get(config.hostVar) ?? "";
  return {
    host: WILDCARDS.has(host) ? "127.0.0.1" : host.replace(/^\[(.*)\]$/, "$1"),
    port,
    path: own.healthPath ?? config.healthPath,
    timeoutMs: timeoutMs ?? own.probeTimeoutMs ?? config.probeTimeoutMs,
    kind: own.probe ?? config.probe,
  };
}

/** A target with a profile's own settings applied over it. */
export function withProfileSettings(target: ProbeTarget, own: ProfileSettings): ProbeTarget {
  return {
    ...target,
    kind: own.probe ?? target.kind,
    path: own.healthPath ?? target.path,
    timeoutMs: own.probeTimeoutMs ?? target.timeoutMs,
  };
}

/** healthTarget with the profile's `profile.ini` read from disk (BadFileError when it is wrong). */
export async function profileHealthTarget(paths: Paths, config: Config, name: string, entries: EnvEntries): Promise<ProbeTarget | null> {
  return healthTarget(config, entries, undefined, await readProfileSettings(paths, name));
}

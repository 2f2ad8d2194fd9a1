import type { Config } from "../config.js";
import { BadFileError } from "../errors.js";
import { envFile, type Paths } from "../paths.js";
import type { ProbeTarget } from "../probe/types.js";
import { REFUSED_FILE, systemdUtf8Problem, type EnvEntries } from "../store/envfile.js";
import { readProfileSettings, type ProfileSettings } from "../store/profile-settings.js";
import { portOf } from "../store/profiles.js";
import { isUsablePort } from "./port-allocation.js";

// A gateway bound to every address answers on loopback; probing a wildcard address would not connect.
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "localhost"]);

/**
 * Where a profile's health probe goes: its host (config.ini's host variable, HOST by default) (loopback for wildcards), its port, the health path and
 * probe kind of config.ini unless the profile's own settings (`profile.ini`) override them.
 */
export function healthTarget(config: Config, entries: EnvEntries, timeoutMs?: number, own: ProfileSettings = {}): ProbeTarget | null {
  const port = portOf(entries, config.portVar);
  return port === null ? null : targetAt(config, entries, port, timeoutMs, own);
}

function targetAt(config: Config, entries: EnvEntries, port: number, timeoutMs: number | undefined, own: ProfileSettings): ProbeTarget {
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

/**
 * Where the gate of a profile that is about to (re)start probes, from config.ini and `entries` (of its
 * `.env`, or of the generation about to become it: `file`); the gates apply profile.ini themselves.
 * Without a usable port the gate could vouch for nothing but the unit's state, and with a value systemd
 * refuses (not UTF-8) the unit would not start at all: BadFileError naming `file` then, thrown before
 * anything is started.
 */
export function gateTarget(paths: Paths, config: Config, name: string, entries: EnvEntries, file = envFile(paths, name)): ProbeTarget {
  // systemd would refuse the whole file and start nothing: say so first, naming the key.
  for (const [key, value] of entries) {
    const problem = systemdUtf8Problem(value);
    if (problem) throw new BadFileError(file, `the value of ${key} ${problem}: ${REFUSED_FILE}`, `give it UTF-8 text: \`profiles set ${name} ${key}=...\` (\`profiles env ${name}\` shows it escaped)`);
  }
  const port = portOf(entries, config.portVar);
  if (port !== null && isUsablePort(port)) return targetAt(config, entries, port, undefined, {});
  const raw = entries.get(config.portVar);
  const problem = raw === undefined ? `${config.portVar} is not set, so the gateway has no port` : `${config.portVar}=${JSON.stringify(raw)} is not a port from 1024 to 65535`;
  const hint = file === envFile(paths, name)
    ? `give it one: \`profiles set ${name} ${config.portVar}=N\`, or \`profiles rollback ${name}\``
    : `run \`profiles history ${name}\` and pick a generation with a port`;
  throw new BadFileError(file, problem, hint);
}

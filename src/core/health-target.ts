import type { Config } from "../config.js";
import type { ProbeTarget } from "../probe/types.js";
import type { EnvEntries } from "../store/envfile.js";
import { portOf } from "../store/profiles.js";

// A gateway bound to every address answers on loopback; probing a wildcard address would not connect.
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "localhost"]);

/** Where a profile's health probe goes: its HOST (loopback for wildcards), its port, the health path. */
export function healthTarget(config: Config, entries: EnvEntries, timeoutMs = 2000): ProbeTarget | null {
  const port = portOf(entries, config.portVar);
  if (port === null) return null;
  const host = entries.get("HOST") ?? "";
  return { host: WILDCARDS.has(host) ? "127.0.0.1" : host.replace(/^\[(.*)\]$/, "$1"), port, path: config.healthPath, timeoutMs };
}

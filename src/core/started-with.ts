/** Whether a running gateway started with a given generation: what a known-good mark vouches for. */
import { encodeText } from "../store/bytes.js";
import type { EnvEntries } from "../store/envfile.js";

/**
 * `same`: every key of the generation is in the process's environment with exactly its value; `different`:
 * the keys that are not (never their values); `unknown`: /proc/PID/environ could not be read.
 */
export type StartedWith = { verdict: "same" } | { verdict: "different"; keys: string[] } | { verdict: "unknown" };

/**
 * Compare a process's start-up environment `env` (ProcessInspector.environ; null: unreadable) with
 * `entries`. Keys the generation lacks are not looked at: the manager and the template add their own.
 */
export function startedWith(env: Map<string, string> | null, entries: EnvEntries): StartedWith {
  if (env === null) return { verdict: "unknown" };
  // environ is bytes; a value of ours is compared as the bytes systemd wrote into it.
  const keys = [...entries].filter(([k, v]) => env.get(k) !== encodeText(v).toString("latin1")).map(([k]) => k);
  return keys.length === 0 ? { verdict: "same" } : { verdict: "different", keys: keys.sort() };
}

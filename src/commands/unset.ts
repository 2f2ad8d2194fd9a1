import { UsageError } from "../errors.js";
import { keyProblem } from "../store/envfile.js";
import { envChangeVerb } from "./env-change-verb.js";

/** The keys to remove, checked; a malformed one is never echoed: it may be a secret typed by mistake. */
function checkKeys(name: string, raw: string[]): string[] {
  const keys = raw.map(String);
  for (const [i, k] of keys.entries()) {
    if (k.includes("=")) throw new UsageError(`unset: key ${i + 1} holds "=", so it gives a value (not shown); unset takes keys alone`, `run \`profiles unset ${name} KEY...\``);
    const problem = keyProblem(k);
    if (problem) throw new UsageError(`unset: key ${i + 1} ${problem} (it is not shown, in case it is a secret)`);
  }
  return keys;
}

export default envChangeVerb({
  verb: "unset",
  list: { key: "keys", options: { type: "string", array: true, describe: "Keys to remove (each must be in the .env)" } },
  describe: "Remove keys from a profile's .env (kept as a new generation); --restart applies it and checks health",
  parse: checkKeys,
  change: (keys) => ({ set: new Map(), unset: keys }),
});

/** Keys no two profiles may share a value of (`init --unique`): compared by sha256, so no value is ever shown. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../config.js";
import { DuplicateValueError } from "../errors.js";
import { envFile, type Paths } from "../paths.js";
import { decodeBytes } from "../store/bytes.js";
import { parseEnv, type EnvEntries } from "../store/envfile.js";
import { listProfiles } from "../store/profiles.js";

const digest = (v: string) => createHash("sha256").update(v).digest("hex");

/**
 * The first pair of `profiles` (name → entries, in order) that share a non-empty value of a unique key,
 * as a DuplicateValueError (exit 5) naming both profiles and the key; only pairs with `only` when given.
 */
export function assertDistinctValues(keys: readonly string[], profiles: [string, EnvEntries][], only?: string): void {
  for (const key of keys) {
    const seen = new Map<string, string>();
    for (const [name, entries] of profiles) {
      const v = entries.get(key);
      if (v === undefined || v === "") continue;
      const h = digest(v);
      const other = seen.get(h);
      if (other !== undefined && (only === undefined || only === name || only === other)) throw new DuplicateValueError(key, name === only ? name : other, name === only ? other : name);
      if (other === undefined) seen.set(h, name);
    }
  }
}

/** Every other profile's `.env` entries, read leniently (a file broken by hand still holds its token). */
export async function otherProfiles(paths: Paths, except: ReadonlySet<string>): Promise<[string, EnvEntries][]> {
  const out: [string, EnvEntries][] = [];
  for (const name of await listProfiles(paths)) {
    if (except.has(name)) continue;
    let text: string;
    try {
      text = decodeBytes(readFileSync(envFile(paths, name)));
    } catch {
      continue;
    }
    out.push([name, parseEnv(text).entries]);
  }
  return out;
}

/** Refuse `entries` for profile `name` when another profile holds the same value of a unique key. */
export async function assertUniqueValues(paths: Paths, config: Config, name: string, entries: EnvEntries): Promise<void> {
  if (!config.uniqueKeys.some((k) => (entries.get(k) ?? "") !== "")) return;
  assertDistinctValues(config.uniqueKeys, [...(await otherProfiles(paths, new Set([name]))), [name, entries]], name);
}

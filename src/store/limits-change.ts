/** A change of a profile's resource limits, recorded as a generation: both happen, or (on a failure) neither. */
import { readFileSync } from "node:fs";
import { fileSystemFault } from "../errors.js";
import { envFile, type Paths } from "../paths.js";
import { decodeBytes } from "./bytes.js";
import { commitEnvText, type CommitOptions, type Generation } from "./generations.js";
import { readLimits, writeLimits, type Limits } from "./limits.js";

/**
 * Make `limits` the profile's limits (limits.json and the drop-in) and commit `text` (default: the `.env`
 * as it is, byte for byte) as a new generation recording them. When the commit fails (a full or
 * read-only state directory), the limits before are written back, so no limit is in force that no
 * generation records. Callers hold the profile's lock; `dropInChanged` says whether the manager needs a reload.
 */
export async function commitLimits(paths: Paths, name: string, limits: Limits, reason: string, opts: CommitOptions & { text?: string } = {}): Promise<{ generation: Generation; dropInChanged: boolean }> {
  // A broken limits.json has nothing worth putting back.
  const before = await readLimits(paths, name).catch(() => null);
  try {
    const dropInChanged = await writeLimits(paths, name, limits);
    const text = opts.text ?? currentText(paths, name);
    const generation = await commitEnvText(paths, name, text, reason, { keep: opts.keep, always: true });
    return { generation, dropInChanged };
  } catch (err) {
    if (before) await writeLimits(paths, name, before).catch(() => {});
    throw err;
  }
}

function currentText(paths: Paths, name: string): string {
  const file = envFile(paths, name);
  try {
    return decodeBytes(readFileSync(file));
  } catch (err) {
    throw fileSystemFault(err, file, "read") ?? err;
  }
}

/** A change of a profile's resource limits, recorded as a generation: both happen, or (on a failure) neither. */
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Paths } from "../paths.js";
import { removeFile, writeFileIfChanged } from "./atomic.js";
import type { Generation } from "./generations.js";
import { limitsDropIn, limitsFile, writeLimits, type Limits } from "./limits.js";

/**
 * Make `limits` the profile's limits (limits.json and the drop-in), then run `commit`, which records
 * them as a generation (commitEnvText reads limits.json for it). When either fails (a full or read-only
 * directory), limits.json and the drop-in get their bytes before back (or go, with a drop-in directory
 * made for them), so no limit is in force that no generation records. Callers hold the profile's lock;
 * `dropInChanged` says whether the manager needs a reload.
 */
export async function withLimits(paths: Paths, name: string, limits: Limits, commit: () => Promise<Generation>): Promise<{ generation: Generation; dropInChanged: boolean }> {
  const files = [{ file: limitsFile(paths, name), mode: 0o600 }, { file: limitsDropIn(paths, name), mode: 0o644 }];
  const saved = files.map((f) => ({ ...f, bytes: readOrNull(f.file) }));
  const dropInDir = path.dirname(files[1]!.file);
  const hadDir = existsSync(dropInDir);
  try {
    const dropInChanged = await writeLimits(paths, name, limits);
    return { generation: await commit(), dropInChanged };
  } catch (err) {
    // Their bytes before, best effort: written back where they changed, removed where there were none.
    for (const f of saved) await (f.bytes ? writeFileIfChanged(f.file, f.bytes, f.mode) : removeFile(f.file)).catch(() => {});
    if (!hadDir) await fs.rmdir(dropInDir).catch(() => {});
    throw err;
  }
}

function readOrNull(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch {
    return null;
  }
}

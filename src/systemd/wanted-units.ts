/**
 * The units the user's `*.wants/` and `*.requires/` links name: where EnableUnitFiles puts an enabled
 * unit, in the unit directory, or with `--runtime` in the runtime one. An instance of a template enabled
 * and not loaded since (no reload after the enable) is in no other list: the manager loads it only at its
 * next reload or start, and ListUnitFilesByPatterns names only the template.
 */
import fs from "node:fs";
import path from "node:path";
import type { Paths } from "../paths.js";

/** The unit names linked in the `.wants`/`.requires` directories of the user's unit and runtime unit directories, each once, sorted. */
export function wantedUnits(paths: Pick<Paths, "unitDir" | "runtimeUnitDir">): string[] {
  const units = new Set<string>();
  for (const unitDir of [paths.unitDir, paths.runtimeUnitDir]) {
    let dirs: string[] = [];
    try {
      dirs = fs.readdirSync(unitDir).filter((d) => /\.(wants|requires)$/.test(d));
    } catch {
      // No unit directory: nothing is enabled there.
    }
    for (const dir of dirs) {
      try {
        for (const unit of fs.readdirSync(path.join(unitDir, dir))) units.add(unit);
      } catch {
        // A file named like such a directory holds no links.
      }
    }
  }
  return [...units].sort();
}

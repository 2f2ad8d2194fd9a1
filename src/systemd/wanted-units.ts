/**
 * The units a unit directory's `*.wants/` and `*.requires/` links name: where EnableUnitFiles puts an
 * enabled unit. An instance of a template enabled and not started since is in no other list: the
 * manager loads it only at its next reload or login, and ListUnitFilesByPatterns names only the template.
 */
import fs from "node:fs";
import path from "node:path";

/** The unit names linked in `unitDir`'s `.wants`/`.requires` directories, each once, sorted; [] when it cannot be read. */
export function wantedUnits(unitDir: string): string[] {
  const units = new Set<string>();
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
  return [...units].sort();
}

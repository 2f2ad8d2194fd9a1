/** Check: no unit of the template is enabled or running with no profile of its name. */
import fs from "node:fs";
import path from "node:path";
import { TEMPLATE_PREFIX, UNIT_PATTERN } from "../../systemd/types.js";
import { strayUnit } from "../remove-profile.js";
import { verdict, type Check } from "./types.js";

/** The unit directory's `.wants`/`.requires` links to the template's units: where EnableUnitFiles puts them. */
function linkedNames(unitDir: string): string[] {
  const names: string[] = [];
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(unitDir).filter((d) => /\.(wants|requires)$/.test(d));
  } catch {
    // No unit directory: nothing is enabled there.
  }
  for (const dir of dirs) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(path.join(unitDir, dir));
    } catch {
      continue;
    }
    for (const e of entries) if (e.startsWith(TEMPLATE_PREFIX) && e.endsWith(".service")) names.push(e.slice(TEMPLATE_PREFIX.length, -".service".length));
  }
  return names;
}

export const strayUnitsCheck: Check<"bus"> = {
  id: "stray-units",
  title: "no unit of the template without a profile",
  needs: ["bus"],
  async run(f, { bus: sd }) {
    // Enabled but never started (so not loaded: a killed `add`), or loaded and running (started by hand).
    const loaded = (await sd.list([UNIT_PATTERN])).map((s) => s.name.slice(TEMPLATE_PREFIX.length, -".service".length));
    const candidates = [...new Set([...linkedNames(f.ctx.paths.unitDir), ...loaded])].filter((n) => n !== "" && !f.profiles.includes(n)).sort();
    const problems = [];
    for (const name of candidates) {
      const why = await strayUnit(sd, name);
      if (why !== null) problems.push({ message: `${TEMPLATE_PREFIX}${name}.service ${why}, but ${name} is no profile (an \`add\` killed half-way, or started by hand)`, fix: `profiles remove ${name}` });
    }
    return verdict(problems, "every enabled or running unit of the template is a profile's");
  },
};

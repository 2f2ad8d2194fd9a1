/** Check: no unit of the template is enabled or running with no profile of its name. */
import { TEMPLATE_PREFIX, UNIT_PATTERN, unitName } from "../../systemd/types.js";
import { wantedUnits } from "../../systemd/wanted-units.js";
import { strayUnit } from "../remove-profile.js";
import { shellWord } from "../../render/shell.js";
import { isProfileName } from "../../store/names.js";
import { fine, verdict, type Check } from "./types.js";

export const strayUnitsCheck: Check<"bus"> = {
  id: "stray-units",
  title: "no unit of the template without a profile",
  needs: ["bus"],
  async run(f, { bus: sd }) {
    // Every profile would look stray: the listing's own problem is reported by the files check.
    if (f.profilesError) return fine(`not judged: ${f.profilesError} (see above)`);
    // Enabled, persistently or for this runtime, and not loaded since (a killed `add`, an enable with no
    // reload): only its link tells; or loaded and running (started by hand).
    const units = [...wantedUnits(f.ctx.paths), ...(await sd.list([UNIT_PATTERN])).map((s) => s.name)];
    const names = units.flatMap((u) => (u.startsWith(TEMPLATE_PREFIX) && u.endsWith(".service") ? [u.slice(TEMPLATE_PREFIX.length, -".service".length)] : []));
    const candidates = [...new Set(names)].filter((n) => n !== "" && !f.profiles.includes(n)).sort();
    const problems = [];
    for (const name of candidates) {
      const stray = await strayUnit(sd, name);
      if (stray === null) continue;
      const unit = unitName(name);
      // `remove` takes a profile's name only; a unit named otherwise (by hand) is systemctl's to clean up.
      const runtime = stray.fileState.endsWith("-runtime") ? " --runtime" : "";
      const fix = isProfileName(name) ? `profiles remove ${name}` : `systemctl --user disable --now${runtime} ${shellWord(unit)}`;
      problems.push({ message: `${unit} ${stray.why}, but ${name} is no profile (an \`add\` killed half-way, or started by hand)`, fix });
    }
    return verdict(problems, "every enabled or running unit of the template is a profile's");
  },
};

/** Check: the limits `profiles limits` set are enforced (the user manager has the cgroup controllers they need). */
import { readLimits, type Limits } from "../../store/limits.js";
import { unitName } from "../../systemd/types.js";
import { DELEGATE_FIX, limitsNotEnforced } from "../limits-bite.js";
import { eachProfile, verdict, type Check } from "./types.js";

export const limitsCheck: Check<"bus"> = {
  id: "limits",
  title: "limits enforced",
  needs: ["bus"],
  async run(f, { bus: sd }) {
    const problems = await eachProfile(f, async (name) => {
      // An unreadable limits.json is the file checks' to report.
      const set: Limits = await readLimits(f.ctx.paths, name).catch(() => ({}));
      const missing = await limitsNotEnforced(sd, unitName(name), set);
      return missing.map((m) => ({ message: `${name}: ${m.limit}=${set[m.limit]} is not enforced: ${m.why}`, fix: DELEGATE_FIX }));
    });
    return verdict(problems, "every limit set has the cgroup controller that enforces it");
  },
};

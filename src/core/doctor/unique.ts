/** Check: no two profiles share a value of a key config.ini's `[unique] keys` names (one bot token, one gateway). */
import { DuplicateValueError } from "../../errors.js";
import { assertDistinctValues, otherProfiles } from "../unique-values.js";
import { fine, verdict, type Check, type Problem } from "./types.js";

export const uniqueValuesCheck: Check<"config"> = {
  id: "unique-values",
  title: "no two profiles share a value of a [unique] key",
  needs: ["config"],
  async run(f, { config }) {
    if (f.profilesError) return fine(`not judged: ${f.profilesError} (see above)`);
    const profiles = await otherProfiles(f.ctx.paths, new Set());
    const problems: Problem[] = [];
    // One problem per pair found; the profile named second is the one to change.
    for (const key of config.uniqueKeys) {
      let rest = profiles;
      for (;;) {
        try {
          assertDistinctValues([key], rest);
          break;
        } catch (err) {
          if (!(err instanceof DuplicateValueError)) throw err;
          problems.push({ message: err.message, fix: `profiles set ${err.other} ${key} --stdin   # its own value, typed without echo` });
          rest = rest.filter(([n]) => n !== err.other);
        }
      }
    }
    return verdict(problems, config.uniqueKeys.length === 0 ? "no [unique] keys set" : `${config.uniqueKeys.join(", ")}: all distinct`);
  },
};

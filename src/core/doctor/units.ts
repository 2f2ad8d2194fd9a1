/** Check: no profile's unit is failed or stuck in start-limit-hit. */
import { UNIT_PATTERN, unitName, type UnitState } from "../../systemd/types.js";
import { unitFileStateNow } from "../enabled.js";
import { brokenConfig, brokenNote } from "../broken-config.js";
import { eachProfile, verdict, type Check, type Problem } from "./types.js";

// CLD_* codes of ExecMainCode.
function lastExit(s: UnitState): string {
  if (s.execMainCode === 1) return `, last exit status ${s.execMainStatus}`;
  if (s.execMainCode === 2 || s.execMainCode === 3) return `, killed by signal ${s.execMainStatus}`;
  return "";
}

export const unitsCheck: Check<"bus"> = {
  id: "units",
  title: "no profile failed or start-limit-hit",
  needs: ["bus"],
  async run(f, { bus: sd }) {
    // Units of removed profiles are not ours to judge: `remove` resets their state, and `start` would refuse them.
    const states = new Map((await sd.list([UNIT_PATTERN])).map((s) => [s.name, s]));
    let disabled = 0;
    const problems = await eachProfile(f, async (name): Promise<Problem[]> => {
      const s = states.get(unitName(name));
      // Kept down on purpose (`profiles disable`): whatever its last run left, it is no problem.
      if ((await unitFileStateNow(sd, name)) === "disabled" && s?.activeState !== "active" && s?.activeState !== "activating") {
        disabled++;
        return [];
      }
      if (s?.result !== "start-limit-hit" && s?.activeState !== "failed") return [];
      // A failure with a .env other than its known-good one: the rollback is the fix, a start would fail again.
      // Else `start`, which resets the failed state first, as a unit in start-limit-hit needs.
      const broken = await brokenConfig(f.ctx.paths, name);
      const fix = broken ? `profiles rollback ${name}` : `profiles start ${name}`;
      const what = s.result === "start-limit-hit" ? `crashed too often and hit its start limit (${s.activeState}${lastExit(s)})` : `is failed (result ${s.result}${lastExit(s)})`;
      return [{ message: `${name} ${what}; see \`profiles logs ${name}\`${brokenNote(broken)}`, fix }];
    });
    return verdict(problems, `none of ${f.profiles.length} profile(s) failed${disabled > 0 ? ` (${disabled} disabled: kept down by \`profiles disable\`)` : ""}`);
  },
};

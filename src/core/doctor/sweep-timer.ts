/** Check: the nightly sweep timer is loaded and active. */
import { SWEEP_TIMER } from "../sweep/schedule.js";
import { fine, type Check } from "./types.js";

export const sweepTimerCheck: Check<"bus"> = {
  id: "sweep-timer",
  title: "nightly sweep timer active",
  needs: ["bus"],
  async run(f, { bus: sd }) {
    // `init --no-sweep` says so in the config: no timer is then what the user asked for.
    if (f.config?.sweepTimer === false) return fine(`off by choice (\`profiles init --no-sweep\`); \`profiles init --sweep\` turns it on`);
    const s = await sd.state(SWEEP_TIMER);
    if (s.activeState === "active") return fine(`${SWEEP_TIMER} is ${s.activeState}/${s.subState}`);
    const message = s.loadState === "loaded" ? `${SWEEP_TIMER} is ${s.activeState}: no nightly sweep runs` : `${SWEEP_TIMER} is not installed (${s.loadState})`;
    return { ok: "", problems: [{ message, fix: "profiles init" }] };
  },
};

/** `profiles add`: the 100th profile of a user manager against the 1st of another, empty one. */
import { measure, runOk, type Measurement } from "../exec.js";
import type { BenchContext } from "../context.js";
import { addStopped, numbers, profileName, startAll } from "../population.js";
import { interleave, type Series, type Step } from "../series.js";
import { countManagerCalls } from "../dbus-calls.js";
import type { Tools } from "../tools.js";
import type { SandboxUser } from "../../test/helpers/sandbox.js";
import { LIST_COUNT } from "./list.js";

/** The profile count before the measured add: it is the 100th. */
export const BEFORE_HUNDREDTH = 99;

/** Adds `name` the way a user does (port from the range, started, healthy), then removes it unmeasured. */
function addStep(user: SandboxUser, tools: Tools, series: Series, name: string): Step {
  return {
    series,
    async run(): Promise<Measurement> {
      const m = measure(user, tools.profiles("add", name));
      // Removed whether or not the add succeeded, so that the next round starts from the same count.
      await runOk(user, tools.profiles("remove", name, "--purge")).catch((err: unknown) => {
        if (m.code === 0) throw err;
      });
      return m;
    },
  };
}

/** Grows the main manager to 99 running profiles, then interleaves the 100th add with the empty manager's 1st. */
export async function addPhase(ctx: BenchContext): Promise<void> {
  const { main, empty, tools, registry } = ctx;
  ctx.log(`add: adding profiles ${LIST_COUNT + 1}-${BEFORE_HUNDREDTH}`);
  const ns = numbers(LIST_COUNT + 1, BEFORE_HUNDREDTH);
  await addStopped(main, tools, ns);
  await startAll(main, tools, ns);
  const steps: Step[] = [
    addStep(main, tools, registry.series("add.hundredth", "`profiles add`, the 100th profile (99 running)"), profileName(BEFORE_HUNDREDTH + 1)),
    addStep(empty, tools, registry.series("add.first", "`profiles add`, the 1st profile (another user manager, empty)"), "first"),
  ];
  await interleave("add", steps, ctx.rounds, ctx.registry, ctx.log);
  for (const [user, series, name] of [[main, steps[0]!.series, profileName(BEFORE_HUNDREDTH + 1)], [empty, steps[1]!.series, "first"]] as const) {
    if (series.missing !== null) continue;
    registry.calls.push({ label: series.label, counts: await countManagerCalls(user, tools.profiles("add", name)) });
    await runOk(user, tools.profiles("remove", name, "--purge"));
  }
}

import { withProfile } from "../core/transaction.js";
import { ExitCode } from "../errors.js";
import { defineCommand } from "./command.js";
import { atLeastOneName, names, wait } from "./options.js";
import { eachProfile, renderOutcomes, type Outcome } from "./start.js";

/** `enable`'s text for people: one line per profile, then what to run next. */
export function renderEnable(outcomes: Outcome[]): string {
  return renderOutcomes("enabled and started", outcomes);
}

export default defineCommand<{ names: string[]; wait: number }>({
  command: "enable <names..>",
  describe: "Enable profiles (started at boot, looked after by the sweep) and start them, waiting until healthy",
  options: [wait("Seconds to wait for each profile to be healthy"), names()],
  needs: { config: true, profiles: "names", manager: true },
  builder: (y) => y.example("$0 enable harry", "undo `profiles disable harry`: enable it and start it through the health gate"),
  parse: (args) => atLeastOneName("enable", args.names),
  async run(args, ctx) {
    const outcomes = await eachProfile(args.names, async (name) => {
      const { up, knownGood } = await withProfile(ctx, name, { command: `profiles enable ${name}` }, (tx) => tx.enableAndStart(args.wait * 1000));
      return { name, ok: true, pid: up.state.mainPid, elapsedMs: up.elapsedMs, error: null, knownGood };
    });
    return { data: outcomes, text: renderEnable(outcomes), exitCode: outcomes.some((o) => !o.ok) ? ExitCode.unhealthy : ExitCode.ok };
  },
});

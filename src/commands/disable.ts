import { withProfile } from "../core/transaction.js";
import { ExitCode, SystemdError } from "../errors.js";
import { defineCommand } from "./command.js";
import { atLeastOneName, names, wait } from "./options.js";
import { eachProfile, renderOutcomes, type Outcome } from "./start.js";

/** `disable`'s text for people: one line per profile, then what to run next. */
export function renderDisable(outcomes: Outcome[]): string {
  const text = renderOutcomes("disabled and stopped", outcomes);
  return outcomes.some((o) => o.ok) ? `${text}\n(kept down: not started at boot, left alone by the sweep; \`profiles enable NAME\` brings one back)` : text;
}

export default defineCommand<{ names: string[]; wait: number }>({
  command: "disable <names..>",
  describe: "Disable profiles and stop them: not started at boot, left alone by the sweep, `start` refuses them until `profiles enable`",
  options: [wait("Seconds to wait for each profile's stop job"), names()],
  needs: { config: true, profiles: "names", manager: true },
  builder: (y) => y.example("$0 disable harry", "keep harry down tonight and after a reboot"),
  parse: (args) => atLeastOneName("disable", args.names),
  async run(args, ctx) {
    const outcomes = await eachProfile(args.names, async (name): Promise<Outcome> => {
      const t0 = Date.now();
      const job = await withProfile(ctx, name, { command: `profiles disable ${name}` }, (tx) => tx.disableAndStop(args.wait * 1000));
      if (job !== "done") throw new SystemdError(`${name}: disabled, but the stop job ended "${job}"`, undefined, `run \`profiles status ${name}\``);
      return { name, ok: true, pid: null, elapsedMs: Date.now() - t0, error: null };
    });
    return { data: outcomes, text: renderDisable(outcomes), exitCode: outcomes.some((o) => !o.ok) ? ExitCode.systemd : ExitCode.ok };
  },
});

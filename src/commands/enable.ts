/** `enable` and `disable`: one verb family, as systemctl-enable.c is: each changes the named profiles' enabled state. */
import { deferStopSignals } from "../core/stop-signals.js";
import { withProfile, type ProfileTx } from "../core/transaction.js";
import { ExitCode, SystemdError } from "../errors.js";
import { defineCommand } from "./command.js";
import { atLeastOneName, names, wait } from "./options.js";
import { eachProfile, failedOutcome, renderOutcomes, type Outcome } from "./start.js";

interface EnabledStateVerb {
  verb: "enable" | "disable";
  describe: string;
  /** `--wait`'s help. */
  wait: string;
  /** One profile's change, inside its transaction: what its outcome line shows. */
  one(tx: ProfileTx, name: string, waitMs: number): Promise<Omit<Outcome, "name" | "ok" | "error">>;
  /** The exit code when a profile's change failed. */
  failed: ExitCode;
  render(outcomes: Outcome[]): string;
}

function enabledStateVerb(spec: EnabledStateVerb) {
  return defineCommand<{ names: string[]; wait: number }>({
    command: `${spec.verb} <names..>`,
    describe: spec.describe,
    options: [wait(spec.wait), names()],
    needs: { config: true, profiles: "names", manager: true },
    parse: (args) => atLeastOneName(spec.verb, args.names),
    async run(args, ctx) {
      const outcomes = await deferStopSignals(ctx.notice, (signal) =>
        eachProfile(args.names, async (name): Promise<Outcome> => {
          const done = await withProfile(ctx, name, { command: `profiles ${spec.verb} ${name}`, stopSignal: signal }, (tx) => spec.one(tx, name, args.wait * 1000));
          return { name, ok: true, error: null, ...done };
        }, failedOutcome),
      );
      return { data: outcomes, text: spec.render(outcomes), exitCode: outcomes.some((o) => !o.ok) ? spec.failed : ExitCode.ok };
    },
  });
}

/** `enable`'s text for people: one line per profile, then what to run next. */
export function renderEnable(outcomes: Outcome[]): string {
  return renderOutcomes("enabled and started", outcomes);
}

/** `disable`'s text for people: one line per profile, then what to run next. */
export function renderDisable(outcomes: Outcome[]): string {
  const text = renderOutcomes("disabled and stopped", outcomes);
  return outcomes.some((o) => o.ok) ? `${text}\n(kept down: not started at boot, left alone by the sweep; \`profiles enable NAME\` brings one back)` : text;
}

export const enable = enabledStateVerb({
  verb: "enable",
  describe: "Enable profiles (started at boot, looked after by the sweep) and start them, waiting until healthy",
  wait: "Seconds to wait for each profile to be healthy",
  async one(tx, _name, waitMs) {
    const { up, knownGood } = await tx.enableAndStart(waitMs);
    return { pid: up.state.mainPid, elapsedMs: up.elapsedMs, knownGood };
  },
  failed: ExitCode.unhealthy,
  render: renderEnable,
});

export const disable = enabledStateVerb({
  verb: "disable",
  describe: "Disable profiles and stop them: not started at boot, left alone by the sweep, `start` refuses them until `profiles enable`",
  wait: "Seconds to wait for each profile's stop job",
  async one(tx, name, waitMs) {
    const t0 = Date.now();
    const job = await tx.disableAndStop(waitMs);
    if (job !== "done") throw new SystemdError(`${name}: disabled, but the stop job ended "${job}"`, undefined, `run \`profiles status ${name}\``);
    return { pid: null, elapsedMs: Date.now() - t0 };
  },
  failed: ExitCode.systemd,
  render: renderDisable,
});

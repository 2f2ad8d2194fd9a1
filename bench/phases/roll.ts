/** Rolling restarts of 20 gateways: `profiles roll`, a shell loop (each batch 1 and 5), `pm2 reload all` (2 at a time and 1). */
import { mapLimit } from "../../src/core/sweep/pool.js";
import { measure, runOk, type Measurement } from "../exec.js";
import { notImplemented, type BenchContext } from "../context.js";
import { notRestarted, waitHealthy, type Endpoint } from "../health.js";
import { appEndpoint, startApps } from "../pm2.js";
import { numbers, profileEndpoint, profileName } from "../population.js";
import { bash, ROLL_LOOP } from "../shell.js";
import { pm2Env } from "../tools.js";
import { interleave, type Series, type Step } from "../series.js";
import { countManagerCalls } from "../dbus-calls.js";
import type { SandboxUser } from "../../test/helpers/sandbox.js";

/** How many profiles (and pm2 apps) the roll rows restart. */
export const ROLL_COUNT = 20;

/**
 * A step that restarts every gateway at `endpoints`, run as `user`: the measured command must leave each
 * one answering /health from a new process, or the run counts as failed (a no-op must not be timed as a
 * fast restart).
 */
export function restartStep(user: SandboxUser, series: Series, argv: string[], endpoints: Endpoint[], env?: Record<string, string>): Step {
  return {
    series,
    async run(): Promise<Measurement> {
      const before = await waitHealthy(endpoints);
      const m = measure(user, argv, { env, timeoutMs: 300_000 });
      if (m.code !== 0) return m;
      const after = await waitHealthy(endpoints);
      const stale = notRestarted(endpoints, before, after);
      if (stale.length === 0) return m;
      return { ...m, code: 1, stderr: `exited 0, but ${stale.length} gateways kept their process: ${stale.map((e) => `${e.host}:${e.port}`).join(" ")}` };
    },
  };
}

/** Adds 20 running profiles and 20 pm2 apps, then measures the ways to roll them. */
export async function rollPhase(ctx: BenchContext): Promise<void> {
  const { main, tools, registry, verbs } = ctx;
  const ns = numbers(1, ROLL_COUNT);
  ctx.log(`roll: adding ${ROLL_COUNT} profiles (started, so each has a known-good generation) and ${ROLL_COUNT} pm2 apps`);
  // `add` with its start: the way a user gets profiles that a roll may revert to.
  await mapLimit(ns, 2, async (n) => {
    await runOk(main, tools.profiles("add", profileName(n), "--port", String(profileEndpoint(n).port)));
  });
  await startApps(main, tools, 1, ROLL_COUNT);

  const batch1 = registry.series("roll.batch1", `\`profiles roll\`, ${ROLL_COUNT} profiles, batch 1, min-healthy-time 0`);
  const parallel5 = registry.series("roll.parallel5", `\`profiles roll --max-parallel 5\`, same ${ROLL_COUNT}`);
  const shell = registry.series("roll.shell", `shell loop: \`systemctl --user restart\`, poll /health every 20 ms (${ROLL_COUNT} profiles)`);
  const shell5 = registry.series("roll.shell5", "the same shell loop, 5 units per `systemctl --user restart`");
  const pm2 = registry.series("roll.pm2", `\`pm2 reload all\`, ${ROLL_COUNT} apps, wait_ready`);
  const pm2Serial = registry.series("roll.pm2-serial", "`pm2 reload all --parallel 1`, one app at a time");
  if (!verbs.roll.exists) {
    batch1.missing = notImplemented("roll");
    parallel5.missing = notImplemented("roll");
  } else if (!verbs.roll.options.has("max-parallel")) {
    parallel5.missing = "not measured: `profiles roll` has no --max-parallel";
  }
  const rollArgs = (parallel: number): string[] => [
    "roll",
    ...(verbs.roll.options.has("max-parallel") ? ["--max-parallel", String(parallel)] : []),
    ...(verbs.roll.options.has("min-healthy-time") ? ["--min-healthy-time", "0"] : []),
  ];
  const profileEndpoints = ns.map(profileEndpoint);
  const pairs = ns.map((n) => `${profileName(n)}:${profileEndpoint(n).port}`);
  const steps: Step[] = [
    restartStep(main, batch1, tools.profiles(...rollArgs(1)), profileEndpoints),
    restartStep(main, shell, bash(ROLL_LOOP, ["1", ...pairs]), profileEndpoints),
    restartStep(main, parallel5, tools.profiles(...rollArgs(5)), profileEndpoints),
    restartStep(main, shell5, bash(ROLL_LOOP, ["5", ...pairs]), profileEndpoints),
    restartStep(main, pm2, tools.pm2("reload", "all"), ns.map(appEndpoint), pm2Env(main)),
    restartStep(main, pm2Serial, tools.pm2("reload", "all", "--parallel", "1"), ns.map(appEndpoint), pm2Env(main)),
  ];
  await interleave("roll", steps, ctx.rounds, ctx.registry, ctx.log);
  if (batch1.missing === null) {
    registry.calls.push({ label: batch1.label, counts: await countManagerCalls(main, tools.profiles(...rollArgs(1))) });
    await waitHealthy(profileEndpoints);
  }
}

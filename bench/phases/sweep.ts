/** Checking 200 gateways (`profiles sweep` against a curl loop), and the memory rows. */
import { measure } from "../exec.js";
import { notImplemented, type BenchContext } from "../context.js";
import { addStopped, numbers, profileEndpoint, profilePids, startAll } from "../population.js";
import { peakRssMiB } from "../../test/helpers/proc-readings.js";
import { interleave, type Step } from "../series.js";
import { countManagerCalls } from "../dbus-calls.js";
import { bash, CURL_SWEEP } from "../shell.js";
import { BEFORE_HUNDREDTH } from "./add.js";

/** How many profiles the sweep and the big `list` see. */
export const SWEEP_COUNT = 200;

/** Grows the profiles to 200, measures the sweeps and `profiles list`'s memory, then each gateway's. */
export async function sweepPhase(ctx: BenchContext): Promise<void> {
  const { main, tools, registry, verbs } = ctx;
  const ns = numbers(BEFORE_HUNDREDTH + 1, SWEEP_COUNT);
  ctx.log(`sweep: adding profiles ${ns[0]}-${SWEEP_COUNT}`);
  await addStopped(main, tools, ns);
  await startAll(main, tools, ns);

  const sweep = registry.series("sweep.profiles", `\`profiles sweep\`, ${SWEEP_COUNT} profiles`);
  if (!verbs.sweep.exists) sweep.missing = notImplemented("sweep");
  const ports = numbers(1, SWEEP_COUNT).map((n) => String(profileEndpoint(n).port));
  const steps: Step[] = [
    { series: sweep, run: async () => measure(main, tools.profiles("sweep")) },
    { series: registry.series("sweep.curl", `shell loop: \`curl\` each /health, ${SWEEP_COUNT} ports`), run: async () => measure(main, bash(CURL_SWEEP, ports)) },
    { series: registry.series("rss.list200", `\`profiles list\`, ${SWEEP_COUNT} profiles`), run: async () => measure(main, tools.profiles("list")) },
  ];
  await interleave("sweep", steps, ctx.rounds, ctx.registry, ctx.log);
  for (const [series, argv] of [[steps[2]!.series, tools.profiles("list")], [sweep, tools.profiles("sweep")]] as const) {
    if (series.missing === null) registry.calls.push({ label: series.label, counts: await countManagerCalls(main, argv) });
  }

  // Idle: every gateway has answered a few probes since it started, and nothing else.
  const gateway = registry.series("rss.gateway", "one idle reference gateway under systemd (VmHWM)");
  for (const pid of await profilePids(main, tools)) {
    const mib = peakRssMiB(pid);
    if (mib !== null) gateway.rssMiB.push(mib);
  }
}

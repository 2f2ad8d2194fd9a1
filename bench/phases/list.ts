/** Listing 50 gateways (`profiles list --json`, `pm2 jlist`, `systemctl list-units`) and start-up references. */
import { measure, type Measurement } from "../exec.js";
import type { BenchContext } from "../context.js";
import { appPids, daemonPid, killPm2, startApps } from "../pm2.js";
import { addStopped, numbers, startAll } from "../population.js";
import { peakRssMiB } from "../../test/helpers/proc-readings.js";
import { interleave, type Series, type Step } from "../series.js";
import { countManagerCalls } from "../dbus-calls.js";
import { pm2Env } from "../tools.js";
import type { SandboxUser } from "../../test/helpers/sandbox.js";
import { ROLL_COUNT } from "./roll.js";

/** How many profiles (and pm2 apps) the list row lists. */
export const LIST_COUNT = 50;

/**
 * A step that runs one command; with a `count`, the command prints a JSON array that must hold that many
 * entries, or the run counts as failed (each tool must list the same gateways).
 */
export function listStep(user: SandboxUser, series: Series, argv: string[], count: number | null, env?: Record<string, string>): Step {
  return {
    series,
    async run(): Promise<Measurement> {
      const m = measure(user, argv, { env });
      if (m.code !== 0 || count === null) return m;
      let entries = -1;
      try {
        const parsed: unknown = JSON.parse(m.stdout);
        if (Array.isArray(parsed)) entries = parsed.length;
      } catch {
        // Counted as not an array below.
      }
      return entries === count ? m : { ...m, code: 1, stderr: `printed ${entries < 0 ? "no JSON array" : `${entries} entries`}, expected ${count}` };
    },
  };
}

/** Grows the profiles from 20 to 50 and pm2's apps likewise, measures the listings, then stops pm2. */
export async function listPhase(ctx: BenchContext): Promise<void> {
  const { main, tools, registry } = ctx;
  const from = ROLL_COUNT + 1;
  ctx.log(`list: adding profiles ${from}-${LIST_COUNT} and pm2 apps ${from}-${LIST_COUNT}`);
  const ns = numbers(from, LIST_COUNT);
  await addStopped(main, tools, ns);
  await startAll(main, tools, ns);
  await startApps(main, tools, from, LIST_COUNT);

  const pm2 = pm2Env(main);
  const deps = ["yargs", "zod", "pino", "dbus-next"];
  const steps: Step[] = [
    listStep(main, registry.series("list.profiles", `\`profiles list --json\`, ${LIST_COUNT} profiles`), tools.profiles("list", "--json"), LIST_COUNT),
    listStep(main, registry.series("list.pm2", `\`pm2 jlist\`, ${LIST_COUNT} apps`), tools.pm2("jlist"), LIST_COUNT, pm2),
    listStep(
      main,
      registry.series("list.systemctl", `\`systemctl --user list-units 'agent-gateway@*' --output=json\` (the floor)`),
      ["systemctl", "--user", "list-units", "agent-gateway@*", "--output=json"],
      LIST_COUNT,
    ),
    listStep(main, registry.series("ref.node", "`node -e 0` (bare node start-up)"), ["node", "-e", "0"], null),
    listStep(
      main,
      registry.series("ref.deps", `\`node\` loading ${deps.join(", ")} one module at a time (the CLI's dependencies, unbundled)`),
      ["node", "-e", deps.map((d) => `require(${JSON.stringify(tools.dependency(d))});`).join("")],
      null,
    ),
    listStep(main, registry.series("ref.version", "`profiles --version` (answered by the loader, without the bundle)"), tools.profiles("--version"), null),
    // Another word beside --version: the bundle runs and yargs answers it, so this is any command's start-up.
    listStep(main, registry.series("ref.startup", "`profiles --version --json` (CLI start-up: the bundle, no work)"), tools.profiles("--version", "--json"), null),
    listStep(main, registry.series("ref.http", "a bare node HTTP server answering 5 requests"), ["node", tools.fixture("http-idle")], null),
  ];
  await interleave("list", steps, ctx.quick, ctx.registry, ctx.log);
  const list = registry.get("list.profiles");
  if (list.missing === null) registry.calls.push({ label: list.label, counts: await countManagerCalls(main, tools.profiles("list", "--json")) });

  // pm2's side of the memory rows, for context: each app runs the gateway inside pm2's fork container.
  const appRss = registry.series("rss.pm2-gateway", "one idle reference gateway under pm2 (VmHWM)");
  for (const pid of await appPids(main, tools)) {
    const mib = peakRssMiB(pid);
    if (mib !== null) appRss.rssMiB.push(mib);
  }
  const daemon = daemonPid(main);
  const daemonMib = daemon === null ? null : peakRssMiB(daemon);
  if (daemonMib !== null) registry.series("rss.pm2-daemon", `the pm2 daemon itself, ${LIST_COUNT} apps (VmHWM)`).rssMiB.push(daemonMib);
  await killPm2(main, tools);
}

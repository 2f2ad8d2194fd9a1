import { loadedUnits, observeHealth, type HealthObservation } from "../core/sweep/unit-health.js";
import { mapLimit, PROBE_CONCURRENCY } from "../core/sweep/pool.js";
import { readStartLimits } from "../core/sweep/unit-condition.js";
import { ExitCode } from "../errors.js";
import { table } from "../render/table.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists, listProfiles } from "../store/profiles.js";
import { defineCommand } from "./command.js";

/** The table `health` prints: one verdict per profile with its reason. */
export function healthTable(rows: HealthObservation[]): string {
  return table(
    ["NAME", "PORT", "UNIT", "PROBE", "LATENCY", "VERDICT"],
    rows.map((r) => [
      r.name,
      r.port === null ? "-" : String(r.port),
      r.condition,
      r.probe ? `${r.probe.kind} ${r.probe.reason}` : "-",
      r.probe ? `${r.probe.latencyMs} ms` : "-",
      r.healthy ? "healthy" : `UNHEALTHY: ${r.problems.join("; ")}`,
    ]),
  );
}

export default defineCommand<{ names?: string[] }>({
  command: "health [names..]",
  describe: "Probe profiles now and print each verdict with its reason (exit 7 unless all are healthy)",
  builder: (y) =>
    y
      .positional("names", { type: "string", array: true, describe: "Profile names (default: all)" })
      .example("$0 health", "every profile")
      .example("$0 health liam ops --json", "two profiles, for scripts"),
  async run(args, ctx) {
    const config = await ctx.config();
    let names: string[];
    if (args.names && args.names.length > 0) {
      names = [...new Set(args.names.map(assertProfileName))];
      for (const name of names) await assertProfileExists(ctx.paths, name);
    } else {
      names = await listProfiles(ctx.paths);
    }
    const [loaded, limits] = await Promise.all([loadedUnits(ctx), readStartLimits(ctx.paths)]);
    const rows = await mapLimit(names, PROBE_CONCURRENCY, (name) => observeHealth(ctx, config, limits, name, loaded));
    const unhealthy = rows.filter((r) => !r.healthy);
    const lines = [healthTable(rows)];
    if (unhealthy.length > 0) lines.push(`${unhealthy.length} of ${rows.length} unhealthy; next: profiles status ${unhealthy.map((r) => r.name).join(" ")}, or profiles sweep --restart-unhealthy`);
    return {
      data: rows,
      text: names.length === 0 ? "no profiles yet: run `profiles add NAME`" : lines.join("\n"),
      exitCode: unhealthy.length === 0 ? ExitCode.ok : ExitCode.unhealthy,
    };
  },
});

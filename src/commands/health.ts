import { countsUnhealthy, observeHealth, unitsNow, verdictCell, type HealthObservation } from "../core/sweep/unit-health.js";
import { mapLimit, PROBE_CONCURRENCY } from "../core/sweep/pool.js";
import { readStartLimits } from "../core/sweep/unit-condition.js";
import { ExitCode } from "../errors.js";
import { profileLabel, table, withHost } from "../render/table.js";
import { NO_PROFILES } from "../render/status-table.js";
import { listProfiles } from "../store/profiles.js";
import { defineCommand } from "./command.js";
import { names } from "./options.js";

/** The table `health` prints: one verdict per profile with its reason. */
export function healthTable(rows: (HealthObservation & { host?: string })[]): string {
  return table(
    ...withHost(["NAME", "PORT", "UNIT", "PROBE", "LATENCY", "VERDICT"], rows, (r) => [
      r.name,
      r.port === null ? "-" : String(r.port),
      r.condition,
      r.probe ? `${r.probe.kind} ${r.probe.reason}` : "-",
      r.probe ? `${r.probe.latencyMs} ms` : "-",
      verdictCell(r),
    ]),
  );
}

/** `health`'s text for people: the table, then what to run for the unhealthy ones. */
export function renderHealth(rows: (HealthObservation & { host?: string })[]): string {
  if (rows.length === 0) return NO_PROFILES;
  const unhealthy = rows.filter(countsUnhealthy);
  const lines = [healthTable(rows)];
  // A restart cannot help a profile broken by its .env: the way back is a rollback.
  const broken = unhealthy.filter((r) => r.brokenConfig);
  const other = unhealthy.filter((r) => !r.brokenConfig);
  const next = [
    ...(broken.length > 0 ? [`profiles diff NAME, then profiles rollback NAME for ${broken.map(profileLabel).join(" ")} (its .env changed since known-good)`] : []),
    ...(other.length > 0 ? [`profiles status ${other.map(profileLabel).join(" ")}, or profiles sweep --restart-unhealthy`] : []),
  ];
  if (unhealthy.length > 0) lines.push(`${unhealthy.length} of ${rows.length} unhealthy; next: ${next.join("; ")}`);
  return lines.join("\n");
}

export default defineCommand<{ names?: string[] }>({
  command: "health [names..]",
  describe: "Probe profiles now and print each verdict with its reason (exit 7 unless all are healthy or disabled)",
  options: [names("Profile names (default: all)")],
  needs: { config: true, profiles: "names", manager: true },
  async run(args, ctx) {
    const config = await ctx.config();
    const chosen = args.names && args.names.length > 0 ? [...new Set(args.names)] : await listProfiles(ctx.paths);
    const [units, limits] = await Promise.all([unitsNow(ctx, chosen), readStartLimits(ctx.paths)]);
    const rows = await mapLimit(chosen, PROBE_CONCURRENCY, (name) => observeHealth(ctx, config, limits, name, units));
    return { data: rows, text: renderHealth(rows), exitCode: !rows.some(countsUnhealthy) ? ExitCode.ok : ExitCode.unhealthy };
  },
});

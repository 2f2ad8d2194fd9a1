import { profileHealthTarget } from "../core/health-target.js";
import { probe } from "../probe/types.js";
import { inspectRunning } from "../core/inspect.js";
import { profileStartLimits, readStartLimits, unitCondition, unitProblem } from "../core/sweep/unit-condition.js";
import { unitName } from "../systemd/types.js";
import { limitsInForce, limitsText } from "../core/limits-in-force.js";
import { brokenConfig, type BrokenConfig } from "../core/broken-config.js";
import { ExitCode } from "../errors.js";
import { NO_PROFILES, pendingLines, statusTable } from "../render/status-table.js";
import { profileLabel } from "../render/table.js";
import { listProfiles, readEnv } from "../store/profiles.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";
import type { ProfileStatusRunning } from "../core/inspect.js";
import type { LimitsInForce } from "../core/limits-in-force.js";

/** One profile as `status` reports it: its state, its health verdict, the limits in force. */
export type StatusRow = ProfileStatusRunning & { health: { ok: boolean; reason: string; latencyMs?: number }; limits: LimitsInForce; brokenConfig: BrokenConfig | null };

/** `status`'s text for people: the status table, then each profile's health and limits. */
export function renderStatus(rows: (StatusRow & { host?: string })[]): string {
  if (rows.length === 0) return NO_PROFILES;
  const lines = [statusTable(rows), ...pendingLines(rows)];
  for (const r of rows) {
    const extra = r.lastExit ? `, last exit: ${r.lastExit}, result ${r.result}` : "";
    lines.push(`${profileLabel(r)}: health ${r.health.ok ? "ok" : r.health.reason}${extra}`);
    lines.push(`  limits: ${limitsText(r.limits)}`);
    if (r.brokenConfig) lines.push(`  next: ${r.brokenConfig.hint}`);
  }
  return lines.join("\n");
}

export default defineCommand<{ name?: string }>({
  command: "status [name]",
  describe: "State and health of one or all profiles (exit 7 if any is unhealthy; a disabled one is not)",
  options: [name("Profile name (default: all)")],
  needs: { config: true, profiles: "name", manager: true },
  async run(args, ctx) {
    const config = await ctx.config();
    const names = args.name !== undefined ? [args.name] : await listProfiles(ctx.paths);
    const rows = await inspectRunning(ctx, config, names);
    const prober = await ctx.prober();
    const limits = await readStartLimits(ctx.paths);
    const sd = await ctx.systemd();
    const withHealth = await Promise.all(
      rows.map(async (r) => {
        if (r.disabled) return { ...r, health: { ok: false, reason: `disabled (kept down by \`profiles disable\`; \`profiles enable ${r.name}\` starts it)` } };
        // A failed unit: say whether it gave up at its start limit (systemd 252 keeps Result=exit-code then).
        if (r.activeState === "failed") {
          const state = await sd.state(unitName(r.name));
          const condition = unitCondition(state, await profileStartLimits(ctx.paths, r.name, limits));
          return { ...r, condition, health: { ok: false, reason: unitProblem(condition, state) ?? `unit ${r.activeState}` } };
        }
        if (r.activeState !== "active") return { ...r, health: { ok: false, reason: `unit ${r.activeState}` } };
        const target = await profileHealthTarget(ctx.paths, config, r.name, await readEnv(ctx.paths, r.name).catch(() => new Map<string, string>()));
        if (!target) return { ...r, health: { ok: false, reason: `no ${config.portVar} in its .env` } };
        const v = await probe(prober, target);
        return { ...r, health: { ok: v.ok, reason: v.reason, latencyMs: Math.round(v.latencyMs) } };
      }),
    );
    // The limits the manager applies, whoever set them (`profiles limits`, a drop-in by hand, the template).
    // A failing profile (not one stopped or disabled on purpose) whose .env is not its known-good one: the way back.
    const failing = (r: (typeof withHealth)[number]) => !r.health.ok && !r.disabled && (r.activeState === "failed" || r.activeState === "active" || r.activeState === "activating");
    const withLimits: StatusRow[] = await Promise.all(
      withHealth.map(async (r) => ({ ...r, limits: await limitsInForce(sd, unitName(r.name)), brokenConfig: failing(r) ? await brokenConfig(ctx.paths, r.name) : null })),
    );
    const allHealthy = withHealth.every((r) => r.health.ok || r.disabled);
    return {
      data: args.name !== undefined ? withLimits[0] : withLimits,
      text: renderStatus(withLimits),
      exitCode: allHealthy ? ExitCode.ok : ExitCode.unhealthy,
    };
  },
});

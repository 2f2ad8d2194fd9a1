import { profileHealthTarget } from "../core/health-target.js";
import { probe } from "../probe/types.js";
import { inspectProfiles } from "../core/inspect.js";
import { readStartLimits, unitCondition, unitProblem } from "../core/sweep/unit-condition.js";
import { unitName } from "../systemd/types.js";
import { limitsInForce, limitsText } from "../core/limits-in-force.js";
import { ExitCode } from "../errors.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists, listProfiles, readEnv } from "../store/profiles.js";
import { defineCommand } from "./command.js";
import { statusTable } from "./list.js";

export default defineCommand<{ name?: string }>({
  command: "status [name]",
  describe: "State and health of one or all profiles (exit 7 if any is unhealthy)",
  builder: (y) => y.positional("name", { type: "string", describe: "Profile name (default: all)" }),
  async run(args, ctx) {
    const config = await ctx.config();
    let names: string[];
    if (args.name !== undefined) {
      const name = assertProfileName(args.name);
      await assertProfileExists(ctx.paths, name);
      names = [name];
    } else {
      names = await listProfiles(ctx.paths);
    }
    const rows = await inspectProfiles(ctx, config, names);
    const prober = await ctx.prober();
    const limits = await readStartLimits(ctx.paths);
    const sd = await ctx.systemd();
    const withHealth = await Promise.all(
      rows.map(async (r) => {
        // A failed unit: say whether it gave up at its start limit (systemd 252 keeps Result=exit-code then).
        if (r.activeState === "failed") {
          const state = await sd.state(unitName(r.name));
          const condition = unitCondition(state, limits);
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
    const withLimits = await Promise.all(withHealth.map(async (r) => ({ ...r, limits: await limitsInForce(sd, unitName(r.name)) })));
    const lines = [statusTable(rows)];
    for (const r of withLimits) {
      const extra = r.lastExit ? `, last exit: ${r.lastExit}, result ${r.result}` : "";
      lines.push(`${r.name}: health ${r.health.ok ? "ok" : r.health.reason}${extra}`);
      lines.push(`  limits: ${limitsText(r.limits)}`);
    }
    const allHealthy = withHealth.every((r) => r.health.ok);
    return {
      data: args.name !== undefined ? withLimits[0] : withLimits,
      text: names.length === 0 ? "no profiles yet: run `profiles add NAME`" : lines.join("\n"),
      exitCode: allHealthy ? ExitCode.ok : ExitCode.unhealthy,
    };
  },
});

import { assertPortsFree, assertUniqueAmong } from "../core/import/checks.js";
import { findOldProfiles, wasActive, wasEnabled, type OldProfile, type Skipped } from "../core/import/discover.js";
import { takeOver, undoneText, type TakeOverResult } from "../core/import/take-over.js";
import { parseUnitPattern, type UnitPattern } from "../core/import/unit-pattern.js";
import { deferStopSignals, Steps } from "../core/stop-signals.js";
import { ExitCode } from "../errors.js";
import { unmarkedLines } from "../render/known-good.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { names, wait } from "./options.js";

/** One profile of the plan: the unit it leaves, the unit it gets, its port and where its `.env` is kept. */
export interface ImportRow {
  name: string;
  oldUnit: string;
  oldState: string;
  oldEnabled: boolean;
  oldPid: number | null;
  unit: string;
  port: number;
  source: string;
  target: string;
  /** `in place`: the env-path is the file the old unit reads; `copied`: its bytes go to the env-path's file, the old one stays. */
  env: "in place" | "copied";
}

/** What `import` found, and with `--dry-run` false what became of each profile (in order; it stops at the first failure). */
export interface ImportResult {
  pattern: string;
  dryRun: boolean;
  plan: ImportRow[];
  /** Found, but left alone: already profiles of ours, or a `.env` no unit of the pattern reads. */
  skipped: Skipped[];
  results: TakeOverResult[];
  /** Not tried after a failure: still run by their old units. */
  notReached: string[];
}

function row(p: OldProfile): ImportRow {
  return {
    name: p.name, oldUnit: p.unit, oldState: `${p.activeState}/${p.subState}`, oldEnabled: wasEnabled(p), oldPid: p.mainPid || null,
    unit: unitName(p.name), port: p.port, source: p.source, target: p.target, env: p.source === p.target ? "in place" : "copied",
  };
}

/** `import`'s text for people: the plan, then each profile's outcome and the next step. */
export function renderImport(r: ImportResult): string {
  const lines = [r.dryRun ? `would import from ${r.pattern} (dry run: nothing changed):` : `import from ${r.pattern}:`];
  for (const p of r.plan) {
    lines.push(`  ${p.name}: ${p.oldUnit} (${p.oldState}, ${p.oldEnabled ? "enabled" : "not enabled"}) -> ${p.unit}, port ${p.port}`);
    lines.push(`    .env ${p.env === "in place" ? `${p.target}, kept in place` : `${p.source}, copied to ${p.target}`} as generation 1 ("imported")`);
  }
  for (const s of r.skipped) lines.push(`  skipped ${s.name}: ${s.why}`);
  for (const o of r.results) {
    const old = r.plan.find((p) => p.name === o.name)!.oldUnit;
    if (o.outcome === "imported") {
      const good = o.knownGood?.generation === o.generation ? " known-good" : "";
      lines.push(`imported ${o.name}: ${unitName(o.name)} healthy (pid ${o.pid}, ${(o.elapsedMs / 1000).toFixed(1)} s), generation ${o.generation}${good}; ${old} disabled and stopped, its unit file kept`);
      lines.push(...unmarkedLines(o.knownGood).map((l) => `  ${l}`));
      continue;
    }
    // A gate's message names the profile already.
    lines.push(`FAILED ${o.error?.startsWith(`${o.name}:`) ? "" : `${o.name}: `}${o.error}`, ...o.details.map((d) => `    ${d}`));
    lines.push(`  ${undoneText(o.name, old, o.restored)}`);
  }
  if (r.notReached.length > 0) lines.push(`not tried after the failure, still run by their old units: ${r.notReached.join(", ")}`);
  if (r.dryRun) lines.push(`next: profiles import --from-unit '${r.pattern}'${r.plan.length > 0 ? ` ${r.plan.map((p) => p.name).join(" ")}` : ""}`);
  else if (r.results.some((o) => o.outcome === "failed")) lines.push(`next: profiles logs ${r.results.find((o) => o.outcome === "failed")!.name}, fix it, then import again`);
  else lines.push("next: profiles list");
  return lines.join("\n");
}

export default defineCommand<{ fromUnit: string; names?: string[]; dryRun: boolean; wait: number }, UnitPattern>({
  command: "import [names..]",
  describe: "Take over profiles that hand-written units run (a template or one unit per profile): each .env kept byte for byte as generation 1, the old unit disabled and stopped, ours started and gated; a failure puts the old unit back",
  options: [names("Profiles to import (default: every one the pattern's units and the env-path's files give)"), wait("Seconds each profile may take to pass its health gate")],
  needs: { config: true, profiles: "none", manager: true },
  builder: (y) =>
    y
      .option("from-unit", { type: "string", demandOption: true, describe: "The old units, %i the profile's name: 'hermes-gateway@%i.service' or 'hermes-gateway-%i.service'" })
      .option("dry-run", { type: "boolean", default: false, describe: "Print the plan and change nothing" }),
  parse: (args) => parseUnitPattern(String(args.fromUnit ?? "")),
  async run(args, ctx, pattern) {
    const config = await ctx.config();
    const sd = await ctx.systemd();
    const { found, skipped } = await findOldProfiles(sd, ctx.paths, config, pattern, args.names ?? []);
    await assertPortsFree(ctx, config, found);
    await assertUniqueAmong(ctx.paths, config, found);
    const data: ImportResult = { pattern: pattern.text, dryRun: args.dryRun, plan: found.map(row), skipped, results: [], notReached: [] };
    if (!args.dryRun) {
      const command = `profiles import --from-unit '${pattern.text}'`;
      // Ctrl-C and SIGTERM: the profile under way is put back (a wait for ours given up), no other begun.
      await deferStopSignals(ctx.notice, async (signal) => {
        const steps = new Steps(signal, found.map((p) => p.name), (left) => `run \`${command} ${left.join(" ")}\` to import what is left`);
        for (const old of found) {
          if (data.results.some((o) => o.outcome === "failed")) {
            data.notReached.push(old.name);
            continue;
          }
          const one = (): Promise<TakeOverResult> => {
            ctx.progress(`importing ${old.name}: ${wasActive(old) ? `stopping ${old.unit}, ` : ""}starting ${unitName(old.name)} on port ${old.port} ...`);
            return takeOver(ctx, old, args.wait * 1000, signal);
          };
          data.results.push(await steps.next(old.name, one, (o) => `${o.name} ${o.outcome}`));
        }
      });
    }
    const failed = data.results.some((o) => o.outcome === "failed");
    return { data, text: renderImport(data), exitCode: failed ? ExitCode.unhealthy : ExitCode.ok };
  },
});

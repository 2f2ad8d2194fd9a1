import readline from "node:readline/promises";
import { applyManifest, type ApplyResult } from "../core/manifest/apply.js";
import { readManifest } from "../core/manifest/parse.js";
import type { ManifestPlan } from "../core/manifest/plan.js";
import { declareRollFlags, parseRollOptions, type RollFlags } from "../core/roll/options.js";
import { reportText } from "../core/roll/report.js";
import { nextStep } from "../core/roll/summary.js";
import { AppError, ExitCode, UsageError } from "../errors.js";
import { planLines } from "../render/manifest-plan.js";
import { peopleText } from "../redact.js";
import { defineCommand } from "./command.js";
import { manifestFile, prune, wait } from "./options.js";

interface ApplyArgs extends RollFlags {
  file: string;
  prune: boolean;
  yes: boolean;
  wait: number;
}

/** `apply`'s text for people. */
export function renderApply(r: ApplyResult): string {
  const lines = r.resumed ? ["finished first: the roll an earlier apply was stopped in", ...reportText(r.resumed)] : [];
  if (r.resumed && r.resumed.outcome !== "completed") return [...lines, `next: ${nextStep(r.resumed) ?? "profiles roll"}`].join("\n");
  lines.push(...planLines(r.plan));
  if (r.plan.pending === 0) return lines.join("\n");
  for (const n of r.removed) lines.push(`removed ${n}`);
  for (const c of r.changed) lines.push(`changed ${c.name}${c.generation === null ? "" : `: generation ${c.generation}`}`);
  for (const a of r.added) lines.push(a.started ? `added ${a.name}: healthy on port ${a.port} (pid ${a.pid}, ${a.elapsedMs} ms)` : `added ${a.name} on port ${a.port} (not enabled)`);
  for (const f of r.addFailed) lines.push(`added ${f.name}, but it is not healthy: ${f.message}`);
  if (r.roll) lines.push(...reportText(r.roll));
  const next = r.roll ? nextStep(r.roll) : r.addFailed.length > 0 ? `profiles status ${r.addFailed.map((f) => f.name).join(" ")}` : null;
  if (next) lines.push(`next: ${next}`);
  return lines.join("\n");
}

/** Ask on the terminal; anything but y/yes declines (exit 1, nothing changed). */
async function askOnTerminal(plan: ManifestPlan, first: string): Promise<void> {
  const lines = [...(first ? [`apply would ${first.replace(/, then $/, "")}, then:`] : []), ...planLines(plan)];
  process.stderr.write(`${peopleText(lines.join("\n"))}\n`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question("apply these changes? [y/N] ")).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new AppError("not applied: nothing was changed", ExitCode.failed, "`profiles apply -f FILE --yes` applies without asking");
  } finally {
    rl.close();
  }
}

export default defineCommand<ApplyArgs, ReturnType<typeof parseRollOptions>>({
  command: "apply",
  describe: "Make the profiles what a manifest says: add new ones, change and roll only the changed ones",
  options: [manifestFile, prune, wait("Seconds each new profile has to become healthy")],
  // The manifest is checked (exit 2) before the manager is reached: planning asks it for each profile's state.
  needs: { config: true, profiles: "none", manager: false },
  builder: (y) =>
    declareRollFlags(y)
      .option("yes", { alias: "y", type: "boolean", default: false, describe: "Apply without asking (needed when stdin is no terminal, and with --json)" }),
  parse: (args) => parseRollOptions({ ...args, reload: false }),
  async run(args, ctx, roll) {
    const config = await ctx.config();
    const manifest = readManifest(args.file, config.portVar, ctx.env);
    const interactive = !ctx.json && process.stdin.isTTY === true && process.stderr.isTTY === true;
    const confirm = async (plan: ManifestPlan, resuming: string[] | null) => {
      if (args.yes) return;
      const first = resuming ? `first finish the roll an earlier apply was stopped in (restarting ${resuming.join(", ")}), then ` : "";
      if (!interactive) throw new UsageError(`applying ${args.file} would ${first}make ${plan.pending} change(s); nothing was changed`, `review it with \`profiles plan -f ${args.file}\`, then run \`profiles apply -f ${args.file} --yes\``);
      await askOnTerminal(plan, first);
    };
    const r = await applyManifest(ctx, config, manifest, { prune: args.prune, roll, waitMs: args.wait * 1000, confirm });
    const halted = [r.resumed, r.roll].some((roll) => roll !== null && roll.outcome !== "completed");
    const exitCode = halted ? ExitCode.rollHalted : r.addFailed.length > 0 ? ExitCode.unhealthy : ExitCode.ok;
    return { data: r, text: renderApply(r), exitCode };
  },
});

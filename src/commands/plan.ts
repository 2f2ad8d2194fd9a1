import { readManifest } from "../core/manifest/parse.js";
import { planManifest, type ManifestPlan } from "../core/manifest/plan.js";
import { ExitCode } from "../errors.js";
import { planLines } from "../render/manifest-plan.js";
import { defineCommand } from "./command.js";
import { manifestFile, prune } from "./options.js";

/** `plan`'s text for people. */
export function renderPlan(plan: ManifestPlan): string {
  const lines = planLines(plan);
  if (plan.pending > 0) lines.push(`next: profiles apply -f ${plan.file}${plan.profiles.some((c) => c.action === "remove") ? " --prune" : ""}`);
  return lines.join("\n");
}

export default defineCommand<{ file: string; prune: boolean }>({
  command: "plan",
  describe: "What applying a manifest would change; changes nothing (exit 0: nothing to do, 16: changes pending)",
  options: [manifestFile, prune],
  // The manifest is checked (exit 2) before the manager is reached: planning asks it for each profile's state.
  needs: { config: true, profiles: "none", manager: false },
  async run(args, ctx) {
    const config = await ctx.config();
    const manifest = readManifest(args.file, config.portVar, ctx.env);
    const { plan } = await planManifest(ctx, config, manifest, args.prune);
    return { data: plan, text: renderPlan(plan), exitCode: plan.pending > 0 ? ExitCode.changesPending : ExitCode.ok };
  },
});

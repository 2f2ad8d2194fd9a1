/** A manifest's plan for people, as `plan` prints it and `apply` before it acts. Secret values never show. */
import { renderDifferences } from "../core/env-diff.js";
import type { ManifestPlan, ProfileChange, SettingChange } from "../core/manifest/plan.js";

const yesNo = (b: boolean | null) => (b === null ? "-" : b ? "yes" : "no");
const setting = (what: string, s: SettingChange) => `${what} ${s.key}: ${s.before ?? "(default)"} → ${s.after ?? "(default)"}`;

function changeLines(c: ProfileChange): string[] {
  if (c.action === "remove") return [`- remove ${c.name} (port ${c.portBefore ?? "-"}; its .env kept under removed/)`];
  if (c.action === "add") {
    const lines = [`+ add ${c.name} on port ${c.port}${c.enabled ? ", started and health-gated" : ", not enabled (not started)"}`];
    lines.push(...c.limits.map((l) => `    ${setting("limit", l)}`), ...c.probe.map((p) => `    ${setting("probe", p)}`));
    return lines;
  }
  const why = c.restart ? "restarts (rolled, health-gated)" : "no restart";
  const lines = [`~ change ${c.name}: ${why}`];
  if (c.port !== c.portBefore) lines.push(`    port ${c.portBefore ?? "-"} → ${c.port}`);
  lines.push(...renderDifferences(c.env).map((l) => `    ${l}`));
  lines.push(...c.limits.map((l) => `    ${setting("limit", l)}`), ...c.probe.map((p) => `    ${setting("probe", p)}`));
  if (c.enabledBefore !== c.enabled) lines.push(`    enabled: ${yesNo(c.enabledBefore)} → ${yesNo(c.enabled)}${c.enabled ? "" : " (stopped now)"}`);
  return lines;
}

/** The plan's lines: each profile that changes, how many stay, and those left alone without --prune. */
export function planLines(plan: ManifestPlan): string[] {
  const lines = plan.profiles.filter((c) => c.action !== "none").flatMap(changeLines);
  const same = plan.profiles.filter((c) => c.action === "none").map((c) => c.name);
  if (same.length > 0) lines.push(`= unchanged: ${same.join(", ")}`);
  if (plan.unmanaged.length > 0) lines.push(`not in ${plan.file}, left alone (\`apply --prune\` removes them): ${plan.unmanaged.join(", ")}`);
  const restarts = plan.profiles.filter((c) => c.restart).map((c) => c.name);
  const head = plan.pending === 0 ? `${plan.file}: nothing to do, every profile is as the manifest says` : `${plan.file}: ${plan.pending} profile(s) to change; ${restarts.length} would (re)start${restarts.length ? `: ${restarts.join(", ")}` : ""}`;
  return [head, ...lines];
}

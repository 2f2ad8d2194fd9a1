/** A manifest's plan for people, as `plan` prints it and `apply` before it acts. Secret values never show. */
import { renderDifferences } from "../core/env-diff.js";
import type { ManifestPlan, ProfileChange, SettingChange } from "../core/manifest/plan.js";

const changeCount = (plan: ManifestPlan) => {
  const profiles = plan.pending - plan.host.length;
  return [plan.host.length > 0 ? `${plan.host.length} host setting(s)` : "", profiles > 0 || plan.host.length === 0 ? `${profiles} profile(s)` : ""].filter(Boolean).join(" and ");
};
const hostValue = (v: string | null) => (v === null ? "(default)" : v === "" ? '""' : v);
const yesNo = (b: boolean | null) => (b === null ? "-" : b ? "yes" : "no");
const setting = (what: string, s: SettingChange) => `${what} ${s.key}: ${s.before ?? "(default)"} → ${s.after ?? "(default)"}`;

function changeLines(c: ProfileChange): string[] {
  if (c.action === "remove") return [`- remove ${c.name} (port ${c.portBefore ?? "-"}; its .env kept under removed/)`];
  if (c.action === "add") {
    const lines = [`+ add ${c.name} on port ${c.port}${c.enabled ? ", started and health-gated" : ", not enabled (not started)"}`];
    lines.push(...c.limits.map((l) => `    ${setting("limit", l)}`), ...c.probe.map((p) => `    ${setting("probe", p)}`));
    return lines;
  }
  const why = c.neverGated ? "restarts (rolled, health-gated): it never passed a health gate (an add stopped or failed before it)" : c.restart ? "restarts (rolled, health-gated)" : "no restart";
  const lines = [`~ change ${c.name}: ${why}`];
  if (c.port !== c.portBefore) lines.push(`    port ${c.portBefore ?? "-"} → ${c.port}`);
  lines.push(...renderDifferences(c.env).map((l) => `    ${l}`));
  lines.push(...c.limits.map((l) => `    ${setting("limit", l)}`), ...c.probe.map((p) => `    ${setting("probe", p)}`));
  if (c.enabledBefore !== c.enabled) lines.push(`    enabled: ${yesNo(c.enabledBefore)} → ${yesNo(c.enabled)}${c.enabled ? "" : " (stopped now)"}`);
  return lines;
}

/** The host settings that change: config.ini and the template, which running gateways take at their next restart. */
function hostLines(plan: ManifestPlan): string[] {
  if (plan.host.length === 0) return [];
  return [
    `~ host settings ([defaults], as \`profiles init\` sets them; running profiles take the template's at their next restart: \`profiles roll\`):`,
    ...plan.host.map((h) => `    ${h.key}: ${hostValue(h.before)} → ${hostValue(h.after)}`),
  ];
}

/** The plan's lines: the host settings and each profile that change, how many stay, and those left alone without --prune. */
export function planLines(plan: ManifestPlan): string[] {
  const lines = [...hostLines(plan), ...plan.profiles.filter((c) => c.action !== "none").flatMap(changeLines)];
  const same = plan.profiles.filter((c) => c.action === "none").map((c) => c.name);
  if (same.length > 0) lines.push(`= unchanged: ${same.join(", ")}`);
  if (plan.unmanaged.length > 0) lines.push(`not in ${plan.file}, left alone (\`apply --prune\` removes them): ${plan.unmanaged.join(", ")}`);
  const restarts = plan.profiles.filter((c) => c.restart).map((c) => c.name);
  const head = plan.pending === 0 ? `${plan.file}: nothing to do, every profile is as the manifest says` : `${plan.file}: ${changeCount(plan)} to change; ${restarts.length} profile(s) would (re)start${restarts.length ? `: ${restarts.join(", ")}` : ""}`;
  return [head, ...lines];
}

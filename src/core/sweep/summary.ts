/** The sweep for people: the table, and the short summary a webhook carries. */
import { table } from "../../render/table.js";
import type { SweepProfile, SweepResult } from "./types.js";

function restartsCell(p: SweepProfile): string {
  return p.restartsSinceLastSweep > 0 ? `${p.nRestarts} (+${p.restartsSinceLastSweep})` : String(p.nRestarts);
}

function portCell(p: SweepProfile): string {
  if (p.port === null) return "-";
  const h = p.portHolder;
  const who = !h ? "" : h.status === "own" ? " own" : h.status === "free" ? " free" : ` FOREIGN${h.pid ? ` pid ${h.pid}` : ""}`;
  return `${p.port}${who}`;
}

function driftCell(p: SweepProfile): string {
  if (!p.drift) return "?";
  if (p.drift.pendingRestart) return "pending restart";
  if (p.drift.drifted) return `gen ${p.drift.current ?? "edited"} vs good ${p.drift.knownGood}`;
  return "-";
}

function actionLine(p: SweepProfile): string | null {
  const a = p.action;
  if (!a) return null;
  if (a.kind === "skipped") return `${p.name}: not restarted: ${a.reason}`;
  const verb = a.kind === "restart" ? "restarted" : "started";
  if (a.ok) return `${p.name}: ${verb}, healthy again after ${a.elapsedMs} ms (was: ${p.before?.problems.join("; ")})`;
  return `${p.name}: ${verb}, still unhealthy: ${a.error ?? p.problems.join("; ")}`;
}

/** The sweep as a table with one line per action and note, then a summary line. */
export function sweepText(r: SweepResult): string {
  if (r.total === 0) return "no profiles yet: run `profiles add NAME`";
  const rows = r.profiles.map((p) => [
    p.name,
    portCell(p),
    p.condition,
    p.probe ? `${p.probe.reason}${p.probe.ok ? ` ${p.probe.latencyMs} ms` : ""}` : "-",
    restartsCell(p),
    driftCell(p),
    p.healthy ? "healthy" : `UNHEALTHY: ${p.problems.join("; ")}`,
  ]);
  const lines = [table(["NAME", "PORT", "UNIT", "PROBE", "RESTARTS", "DRIFT", "VERDICT"], rows)];
  for (const p of r.profiles) {
    const a = actionLine(p);
    if (a) lines.push(a);
    for (const n of p.notes) lines.push(`${p.name}: ${n}`);
  }
  for (const o of r.rotatedLogs ?? []) lines.push(`${o.name}: log rotated (${o.bytes} bytes to ${o.file}.1)`);
  lines.push(`${r.healthy} of ${r.total} healthy, ${r.restartAttempts} restart(s) attempted, ${r.durationMs} ms`);
  if (r.textfile) lines.push(r.textfile.written ? `metrics: ${r.textfile.path}` : `metrics NOT written to ${r.textfile.path}: ${r.textfile.error}`);
  if (r.webhook) lines.push(r.webhook.sent ? `webhook: sent to ${r.webhook.url} (status ${r.webhook.status})` : `webhook FAILED (${r.webhook.url}): ${r.webhook.error}`);
  if (r.report) lines.push(`report: ${r.report}`);
  if (r.unhealthy > 0) lines.push(`next: profiles status ${r.profiles.filter((p) => !p.healthy).map((p) => p.name).join(" ")}`);
  return lines.join("\n");
}

/** What the webhook receives: who, where, and what is wrong; `text` suits chat webhooks (Slack, Mattermost). */
export function webhookSummary(r: SweepResult, user: string) {
  const bad = r.profiles.filter((p) => !p.healthy);
  const text = `agent-profiles on ${r.host} (${user}): ${bad.length} of ${r.total} profiles unhealthy: ${bad.map((p) => `${p.name} (${p.problems[0] ?? "?"})`).join(", ")}`;
  return {
    source: "agent-profiles",
    text,
    host: r.host,
    user,
    time: r.time,
    total: r.total,
    healthy: r.healthy,
    unhealthy: bad.map((p) => ({ name: p.name, condition: p.condition, problems: p.problems, action: p.action })),
  };
}

/**
 * The sweep as Prometheus text exposition format (0.0.4), for node_exporter's textfile collector:
 * point `--collector.textfile.directory` at the file's directory. Written atomically (temporary file and
 * rename in the same directory), so the collector never reads half a file.
 */
import { redactText } from "../../redact.js";
import { writeFileAtomic } from "../../store/atomic.js";
import type { SweepProfile, SweepResult } from "./types.js";

interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: { labels: Record<string, string>; value: number }[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

const bit = (b: boolean): number => (b ? 1 : 0);

function perProfile(name: string, help: string, type: Family["type"], profiles: SweepProfile[], value: (p: SweepProfile) => number | null): Family {
  const samples = profiles.flatMap((p) => {
    const v = value(p);
    return v === null ? [] : [{ labels: { profile: p.name }, value: v }];
  });
  return { name, help, type, samples };
}

/** Render the metrics of a sweep. */
export function renderMetrics(r: SweepResult): string {
  const ps = r.profiles;
  const families: Family[] = [
    perProfile("agent_profiles_up", "Whether the profile's unit is active (1) or not (0).", "gauge", ps, (p) => bit(p.condition === "running" || p.condition === "active")),
    perProfile("agent_profiles_healthy", "Whether the profile passed the sweep: unit running, probe ok, port held by its own unit.", "gauge", ps, (p) => bit(p.healthy)),
    perProfile("agent_profiles_disabled", "Whether the profile is kept down by `profiles disable` (then not counted as unhealthy).", "gauge", ps, (p) => bit(p.disabled)),
    perProfile("agent_profiles_start_limit_hit", "Whether the profile's unit is stuck at its start limit.", "gauge", ps, (p) => bit(p.condition === "start-limit-hit")),
    perProfile("agent_profiles_restarts_total", "Automatic restarts of the profile's unit counted by sweeps.", "counter", ps, (p) => p.restartsTotal),
    perProfile("agent_profiles_unit_restarts", "The unit's NRestarts as the manager reports it now.", "gauge", ps, (p) => p.nRestarts),
    perProfile("agent_profiles_probe_success", "Whether the health probe passed (only for profiles whose unit was active).", "gauge", ps, (p) => (p.probe ? bit(p.probe.ok) : null)),
    perProfile("agent_profiles_probe_duration_seconds", "How long the health probe took.", "gauge", ps, (p) => (p.probe ? p.probe.latencyMs / 1000 : null)),
    perProfile("agent_profiles_port_foreign", "Whether a process other than the profile's unit holds its port.", "gauge", ps, (p) => (p.portHolder ? bit(p.portHolder.status === "foreign") : null)),
    perProfile("agent_profiles_drift", "Whether the profile's .env differs from its last known-good generation.", "gauge", ps, (p) => (p.drift ? bit(p.drift.drifted) : null)),
    { name: "agent_profiles_sweep_profiles", help: "Profiles the sweep checked.", type: "gauge", samples: [{ labels: {}, value: r.total }] },
    { name: "agent_profiles_sweep_unhealthy", help: "Profiles unhealthy at the end of the sweep.", type: "gauge", samples: [{ labels: {}, value: r.unhealthy }] },
    { name: "agent_profiles_sweep_restart_attempts", help: "Restarts the sweep attempted.", type: "gauge", samples: [{ labels: {}, value: r.restartAttempts }] },
    { name: "agent_profiles_sweep_duration_seconds", help: "How long the sweep took.", type: "gauge", samples: [{ labels: {}, value: r.durationMs / 1000 }] },
    { name: "agent_profiles_sweep_timestamp_seconds", help: "Unix time at which the sweep ran.", type: "gauge", samples: [{ labels: {}, value: Date.parse(r.time) / 1000 }] },
  ];
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      lines.push(`${f.name}${labels.length > 0 ? `{${labels.join(",")}}` : ""} ${formatValue(s.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Write the metrics atomically, readable by node_exporter (0644), redacted like every output. */
export async function writeTextfile(file: string, r: SweepResult): Promise<void> {
  await writeFileAtomic(file, redactText(renderMetrics(r)), 0o644);
}

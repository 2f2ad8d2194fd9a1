import { parseMaxRestarts } from "../core/sweep/flags.js";
import { runSweep } from "../core/sweep/run.js";
import { cronLine } from "../core/sweep/schedule.js";
import type { SweepProfile, SweepResult } from "../core/sweep/types.js";
import { countsUnhealthy, verdictCell } from "../core/sweep/unit-health.js";
import { ExitCode } from "../errors.js";
import { peopleText } from "../redact.js";
import { checkTextfile, checkWebhook } from "../settings.js";
import { table } from "../render/table.js";
import { defineCommand } from "./command.js";
import { wait } from "./options.js";

interface SweepArgs {
  restartUnhealthy: boolean;
  maxRestarts: string;
  wait: number;
  textfile?: string;
  webhook?: string;
  printCron: boolean;
  rollbackBroken?: boolean;
}

/** The flags of `sweep`, checked before anything is read. */
interface SweepFlags {
  maxRestarts: number;
  textfile: string | undefined;
  webhook: string | undefined;
}

/** `sweep --print-cron`'s result: the crontab line, and why the webhook is left out of it. */
export interface CronResult {
  cron: string;
  note: string | null;
}

/** `sweep --print-cron`'s text: the line alone, for `>> my.crontab`. */
export function renderCron(r: CronResult): string {
  return r.cron;
}

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
  const verb = a.kind === "restart" ? "restarted" : a.kind === "rollback" ? "rolled back to known-good" : "started";
  if (a.ok) return `${p.name}: ${verb}, healthy again after ${a.elapsedMs} ms (was: ${p.before?.problems.join("; ")})`;
  return `${p.name}: ${verb}, still unhealthy: ${a.error ?? p.problems.join("; ")}`;
}

/** The sweep as a table with one line per action and note, then a summary line. */
export function renderSweep(r: SweepResult): string {
  if (r.total === 0) return "no profiles yet: run `profiles add NAME`";
  const rows = r.profiles.map((p) => [
    p.name,
    portCell(p),
    p.condition,
    p.probe ? `${p.probe.reason}${p.probe.ok ? ` ${p.probe.latencyMs} ms` : ""}` : "-",
    restartsCell(p),
    driftCell(p),
    verdictCell(p),
  ]);
  const lines = [table(["NAME", "PORT", "UNIT", "PROBE", "RESTARTS", "DRIFT", "VERDICT"], rows)];
  for (const p of r.profiles) {
    const a = actionLine(p);
    if (a) lines.push(a);
    for (const n of p.notes) lines.push(`${p.name}: ${n}`);
  }
  for (const o of r.rotatedLogs ?? []) lines.push(`${o.name}: log rotated (${o.bytes} bytes to ${o.file}.1)`);
  lines.push(`${r.healthy} of ${r.total} healthy${r.disabled > 0 ? `, ${r.disabled} disabled` : ""}, ${r.restartAttempts} restart(s) attempted, ${r.durationMs} ms`);
  if (r.textfile) lines.push(r.textfile.written ? `metrics: ${r.textfile.path}` : `metrics NOT written to ${r.textfile.path}: ${r.textfile.error}`);
  if (r.webhook) lines.push(r.webhook.sent ? `webhook: sent to ${r.webhook.url} (status ${r.webhook.status})` : `webhook FAILED (${r.webhook.url}): ${r.webhook.error}`);
  if (r.report) lines.push(`report: ${r.report}`);
  if (r.unhealthy > 0) lines.push(`next: profiles status ${r.profiles.filter(countsUnhealthy).map((p) => p.name).join(" ")}`);
  return lines.join("\n");
}

export default defineCommand<SweepArgs, SweepFlags>({
  command: "sweep",
  describe: "Check every profile (unit, probe, port owner, drift), optionally restart unhealthy ones; record and report (exit 7 if any stays unhealthy)",
  options: [wait("Seconds each restart may take to become healthy")],
  // --print-cron needs no config: `run` reads it for a sweep.
  needs: { config: false, profiles: "none", manager: false },
  builder: (y) =>
    y
      .option("restart-unhealthy", { type: "boolean", default: false, describe: "Reset and restart unhealthy profiles (enabled ones whose port is not taken), then probe again" })
      .option("rollback-broken", { type: "boolean", describe: "With --restart-unhealthy: roll a profile that fails with a .env other than its known-good one back to known-good (through the gate, within --max-restarts) instead of leaving it (default: [sweep] rollback_broken of config.ini, set by `init --sweep-rollback-broken`)" })
      .option("max-restarts", { type: "string", default: "3", describe: "At most this many restarts per sweep (0-100)" })
      .option("textfile", { type: "string", describe: "Write Prometheus metrics to this .prom file, atomically (default: [sweep] textfile of config.ini)" })
      .option("webhook", { type: "string", describe: "POST a JSON summary here when anything is unhealthy (default: [sweep] webhook of config.ini)" })
      .option("print-cron", { type: "boolean", default: false, describe: "Print a crontab line equivalent to the nightly timer, and exit" }),
  parse: async (args) => ({
    maxRestarts: parseMaxRestarts(String(args.maxRestarts)),
    textfile: args.textfile === undefined ? undefined : await checkTextfile("--textfile", args.textfile),
    webhook: args.webhook === undefined ? undefined : checkWebhook("--webhook", args.webhook),
  }),
  async run(args, ctx, { maxRestarts, textfile, webhook }) {

    if (args.printCron) {
      const extra = [
        ...(maxRestarts !== 3 ? ["--max-restarts", String(maxRestarts)] : []),
        ...(args.wait !== 30 ? ["--wait", String(args.wait)] : []),
        ...(textfile ? ["--textfile", textfile] : []),
      ];
      const line = cronLine(ctx.env, process.getuid?.() ?? 0, extra);
      // A URL in a crontab or an argv is readable by others (`ps`); config.ini is 0600.
      const note = webhook ? "the webhook is not put in the line (a command line is visible to every user of the host): set it with `profiles init --sweep-webhook URL`, which keeps it in config.ini (0600)" : null;
      if (note) ctx.progress(`note: ${note}`);
      const data: CronResult = { cron: line, note };
      return { data, text: renderCron(data) };
    }

    const config = await ctx.config();
    const result = await runSweep(ctx, {
      restartUnhealthy: args.restartUnhealthy,
      maxRestarts,
      waitMs: args.wait * 1000,
      rollbackBroken: args.rollbackBroken ?? config.sweepRollbackBroken,
      textfile: textfile ?? (config.sweepTextfile || null),
      webhook: webhook ?? (config.sweepWebhook || null),
    });
    if (result.webhook && !result.webhook.sent) process.stderr.write(peopleText(`profiles: webhook POST to ${result.webhook.url} failed: ${result.webhook.error}`) + "\n");
    if (result.textfile && !result.textfile.written) process.stderr.write(peopleText(`profiles: metrics not written to ${result.textfile.path}: ${result.textfile.error}`) + "\n");
    return { data: result, text: renderSweep(result), exitCode: result.unhealthy === 0 ? ExitCode.ok : ExitCode.unhealthy };
  },
});

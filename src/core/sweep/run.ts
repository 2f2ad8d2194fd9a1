/** The sweep: look at every profile, restart what is unhealthy (within a budget), record and report. */
import os from "node:os";
import type { Config } from "../../config.js";
import { ProcProcessInspector, type ProcessInspector } from "../../processes/inspector.js";
import { acquireLock } from "../../store/lock.js";
import { listProfiles } from "../../store/profiles.js";
import type { Context } from "../context.js";
import { rotateLogs } from "../logs/rotate.js";
import { lookAt } from "./one-profile.js";
import { countsUnhealthy, unitsNow } from "./unit-health.js";
import { mapLimit, PROBE_CONCURRENCY } from "./pool.js";
import { markGood, restartProfile, rollbackBroken, whyNotRestart } from "./repair.js";
import { appendReport } from "./report-file.js";
import { loadSweepState, saveSweepState, type ProfileMemory } from "./state.js";
import { writeTextfile } from "./textfile.js";
import type { SweepResult } from "./types.js";
import { readStartLimits } from "./unit-condition.js";
import { postWebhook, webhookSummary, type WebhookOutcome } from "./webhook.js";

/** How the sweep runs; flags and config.ini already merged and checked. */
export interface SweepOptions {
  restartUnhealthy: boolean;
  maxRestarts: number;
  /** How long one restart may take to become healthy. */
  waitMs: number;
  /** Roll a profile broken by its .env back to known-good (through the gate, within the restart budget) instead of leaving it. */
  rollbackBroken: boolean;
  textfile: string | null;
  webhook: string | null;
}

/** The outside world beyond the Context, replaceable in tests. */
export interface SweepDeps {
  procs: ProcessInspector;
  post: (url: string, body: unknown) => Promise<WebhookOutcome>;
  now: () => Date;
}

const realDeps: SweepDeps = { procs: new ProcProcessInspector(), post: (url, body) => postWebhook(url, body), now: () => new Date() };

/** How long a sweep waits for another sweep (the timer's and a manual one) before giving up. */
export const SWEEP_LOCK_WAIT_MS = 5_000;

/** Run one sweep. Throws only when it cannot run at all (lock held, manager unreachable); a profile's trouble is its verdict. */
export async function runSweep(ctx: Context, opts: SweepOptions, deps: SweepDeps = realDeps): Promise<SweepResult> {
  const config = await ctx.config();
  const lock = await acquireLock(ctx.paths.locksDir, "sweep", "profiles sweep", SWEEP_LOCK_WAIT_MS);
  try {
    return await sweepLocked(ctx, config, opts, deps);
  } finally {
    await lock.release();
  }
}

async function sweepLocked(ctx: Context, config: Config, opts: SweepOptions, deps: SweepDeps): Promise<SweepResult> {
  const started = deps.now();
  const names = await listProfiles(ctx.paths);
  const [units, limits, memory] = await Promise.all([unitsNow(ctx, names), readStartLimits(ctx.paths), loadSweepState(ctx.paths)]);
  // One scan of /proc for all profiles: scanning per profile made a sweep of 200 cost seconds.
  const ports = await (await ctx.ports()).snapshot();
  const profiles = await mapLimit(names, PROBE_CONCURRENCY, (name) => lookAt(ctx, config, limits, deps.procs, ports, name, units, memory.get(name)));

  let attempts = 0;
  if (opts.restartUnhealthy) {
    for (const [i, p] of profiles.entries()) {
      if (p.healthy || p.disabled) continue;
      const why = whyNotRestart(p, attempts, opts.maxRestarts, opts.rollbackBroken);
      if (why) {
        p.action = { kind: "skipped", reason: why };
        continue;
      }
      const repair = p.brokenConfig ? rollbackBroken : restartProfile;
      profiles[i] = await repair(ctx, config, limits, deps.procs, p, opts.waitMs, memory.get(p.name));
      // A profile skipped for its lock took no restart from the budget.
      if (profiles[i]!.action?.kind !== "skipped") attempts++;
    }
  }

  await mapLimit(profiles.filter((p) => p.healthy), PROBE_CONCURRENCY, (p) => markGood(ctx, config, p));
  const next = new Map<string, ProfileMemory>(profiles.map((p) => [p.name, { nRestarts: p.nRestarts, restartsTotal: p.restartsTotal }]));
  await saveSweepState(ctx.paths, next, started);

  // Nightly, the sweep is what keeps log files from growing without end.
  const rotatedLogs = (await rotateLogs(ctx, config, names, false, "profiles sweep").catch((err: Error) => {
    ctx.log.debug({ error: err.message }, "log rotation failed");
    return [];
  })).filter((o) => o.rotated);
  const unhealthy = profiles.filter(countsUnhealthy).length;
  const disabled = profiles.filter((p) => p.disabled).length;
  const result: SweepResult = {
    time: started.toISOString(),
    durationMs: 0,
    host: os.hostname(),
    total: profiles.length,
    healthy: profiles.filter((p) => p.healthy).length,
    unhealthy,
    disabled,
    restartAttempts: attempts,
    profiles,
    rotatedLogs,
    report: null,
    textfile: null,
    webhook: null,
  };
  result.durationMs = deps.now().getTime() - started.getTime();
  if (opts.textfile) {
    try {
      await writeTextfile(opts.textfile, result);
      result.textfile = { path: opts.textfile, written: true, error: null };
    } catch (err) {
      result.textfile = { path: opts.textfile, written: false, error: (err as NodeJS.ErrnoException).code ?? String(err) };
      ctx.log.debug({ file: opts.textfile, error: result.textfile.error }, "cannot write the metrics textfile");
    }
  }
  if (opts.webhook && unhealthy > 0) {
    result.webhook = await deps.post(opts.webhook, webhookSummary(result, ctx.env.USER ?? os.userInfo().username));
    if (!result.webhook.sent) ctx.log.debug({ url: result.webhook.url, error: result.webhook.error }, "webhook POST failed");
  }
  result.report = await appendReport(ctx.paths, result);
  return result;
}

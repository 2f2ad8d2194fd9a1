/**
 * `profiles verify`: a conformance check of a gateway in a throwaway profile (`verify-XXXXXX`, a free port
 * of the range, the configured template or `--exec`), removed afterwards with everything made for it.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { probe } from "../../probe/types.js";
import { ensureDir, writeFileAtomic } from "../../store/atomic.js";
import { profileExists, readEnv } from "../../store/profiles.js";
import { isRunning, unitName } from "../../systemd/types.js";
import { addProfile } from "../add-profile.js";
import { bringUp } from "../bring-up.js";
import type { Context } from "../context.js";
import { execStartFor } from "../exec-command.js";
import { gateTarget } from "../health-target.js";
import { markOutput } from "../logs/since.js";
import { logFile } from "../logs/source.js";
import { removeProfile } from "../remove-profile.js";
import { catchStopSignals } from "../stop-signals.js";
import { checkCrash, checkLogs, checkQuota, checkReload, checkSigterm, checkStart, type CheckName, type Subject, type VerifyCheck } from "./checks.js";

export interface VerifyResult {
  profile: string;
  port: number | null;
  /** The gateway command as tried: `--exec`, or the template's. */
  exec: string;
  checks: VerifyCheck[];
  passed: boolean;
  /** What could not be removed afterwards (empty when all was). */
  leftovers: string[];
  /** The signal that stopped it between two checks, or null. */
  interrupted: string | null;
}

const ORDER: CheckName[] = ["start", "logs", "reload", "crash", "sigterm", "quota"];

/** Runs every check in turn; one that cannot run (the gateway is not up and healthy) is skipped with why. */
export async function verifyGateway(ctx: Context, opts: { exec: string | null; waitMs: number }): Promise<VerifyResult> {
  const config = await ctx.config();
  const sd = await ctx.systemd();
  const name = `verify-${randomBytes(3).toString("hex")}`;
  const unit = unitName(name);
  const execStart = opts.exec === null ? null : execStartFor(opts.exec, ctx.env.PATH);
  // The verify's own drop-in: the command under test, and the quota check's limit.
  const dropIn = path.join(ctx.paths.unitDir, `${unit}.d`, "40-verify.conf");
  const writeDropIn = async (memoryMax: bigint | null) => {
    const lines = ["[Service]", ...(execStart ? ["ExecStart=", `ExecStart=${execStart}`] : []), ...(memoryMax === null ? [] : [`MemoryMax=${memoryMax}`, "MemorySwapMax=0"])];
    await ensureDir(path.dirname(dropIn), 0o755);
    await writeFileAtomic(dropIn, lines.join("\n") + "\n", 0o644);
    await sd.reload();
  };
  const result: VerifyResult = { profile: name, port: null, exec: opts.exec ?? config.exec ?? "", checks: [], passed: false, leftovers: [], interrupted: null };
  const stop = catchStopSignals((text) => ctx.notice(text), {
    first: `stopping after the check under way, then removing ${name}`,
    again: `still finishing the check under way (SIGKILL stops at once, leaving ${name}: \`profiles remove ${name} --purge\`)`,
  });
  const add = (c: VerifyCheck) => {
    result.checks.push(c);
    ctx.progress(`${c.check}: ${c.outcome}${c.ms === null ? "" : ` (${c.ms} ms)`}`);
  };
  // A check starts only while no stop was asked for; one under way finishes.
  const step = async (check: CheckName, run: () => Promise<VerifyCheck>) =>
    add(stop.signal() ? { check, outcome: "skip", ms: null, detail: `not run: stopped by ${stop.signal()}` } : await run());
  ctx.progress(`verifying in the throwaway profile ${name} (removed afterwards; if interrupted: \`profiles remove ${name} --purge\`)`);
  try {
    if (execStart) await writeDropIn(null);
    const mark = await markOutput(ctx, name);
    const start = await checkStart(async () => {
      const r = await addProfile(ctx, name, { port: null, extra: new Map(), enable: true, start: true, waitMs: opts.waitMs, command: "profiles verify" });
      return { elapsedMs: r.elapsedMs, pid: r.pid, port: r.port };
    });
    add(start);
    // Read once: the port for the result (a failed start has one too), the probe's target for the checks.
    const entries = (await profileExists(ctx.paths, name)) ? await readEnv(ctx.paths, name) : null;
    if (entries) result.port = Number(entries.get(config.portVar));
    if (start.outcome !== "pass") {
      for (const c of ORDER.slice(1)) add({ check: c, outcome: "skip", ms: null, detail: "needs a gateway that started" });
    } else if (entries) {
      const s: Subject = { ctx, name, target: gateTarget(ctx.paths, config, name, entries), waitMs: opts.waitMs };
      await step("logs", () => checkLogs(s, mark));
      await step("reload", () => whenHealthy(s, "reload", () => checkReload(s, config.reloadSignal)));
      await step("crash", () => whenHealthy(s, "crash", () => checkCrash(s)));
      await step("sigterm", () => whenHealthy(s, "sigterm", () => checkSigterm(s, config.stopTimeoutSec)));
      // The quota check needs it running again, and then kills it.
      if (!stop.signal()) await bringUp(ctx, name, { deadlineMs: opts.waitMs, target: s.target }).catch(() => null);
      await step("quota", () => whenHealthy(s, "quota", () => checkQuota(s, writeDropIn)));
    }
  } finally {
    result.leftovers = await cleanUp(ctx, name, dropIn, config.logDir);
    result.interrupted = stop.signal();
    stop.remove();
  }
  result.passed = result.checks.every((c) => c.outcome !== "fail") && result.leftovers.length === 0 && result.interrupted === null;
  return result;
}

/** Runs `check` only while the gateway is up and answering; else the row says it could not run. */
async function whenHealthy(s: Subject, check: CheckName, run: () => Promise<VerifyCheck>): Promise<VerifyCheck> {
  const state = await (await s.ctx.systemd()).runState(unitName(s.name));
  const verdict = isRunning(state) ? await probe(await s.ctx.prober(), s.target) : null;
  if (verdict?.ok) return run();
  return { check, outcome: "skip", ms: null, detail: `the gateway was not up and healthy after the check before (${verdict ? `health ${verdict.reason}` : `${state.activeState}/${state.subState}`})` };
}

/** Removes the throwaway profile, its unit's drop-in and its log file; what could not be removed. */
async function cleanUp(ctx: Context, name: string, dropIn: string, logDir: string): Promise<string[]> {
  const left: string[] = [];
  const sd = await ctx.systemd();
  const attempt = async (what: string, step: () => Promise<unknown>) => {
    await step().catch((err: Error) => left.push(`${what}: ${err.message}`));
  };
  if (await profileExists(ctx.paths, name)) await attempt(`profile ${name}`, () => removeProfile(ctx, name, true, "profiles verify"));
  await attempt(dropIn, async () => {
    await fs.rm(dropIn, { force: true });
    await fs.rmdir(path.dirname(dropIn)).catch(() => {});
    await sd.reload();
    await sd.resetFailed(unitName(name)).catch(() => {});
  });
  if (logDir) await attempt(logFile(logDir, name), () => fs.rm(logFile(logDir, name), { force: true }));
  return left;
}

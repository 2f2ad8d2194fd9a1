/**
 * The checks of `profiles verify`, each against the throwaway profile's running unit: what the agent-daemon
 * article calls minimum testability (start-up, signal, crash, quota), plus reload and logs. A check
 * returns its row; only a manager that cannot be reached throws.
 */
import { UnhealthyError } from "../../errors.js";
import { probe, type ProbeTarget } from "../../probe/types.js";
import { isRunning, unitName, type RunState } from "../../systemd/types.js";
import { bringUp, PROBE_EVERY_MS } from "../bring-up.js";
import type { Context } from "../context.js";
import { outputSince, type OutputMark } from "../logs/since.js";

export type CheckName = "start" | "logs" | "reload" | "crash" | "sigterm" | "quota";

/** One row of the verdict. */
export interface VerifyCheck {
  check: CheckName;
  outcome: "pass" | "fail" | "skip";
  /** How long it took, where the time is the point (start-up, stop, recovery). */
  ms: number | null;
  detail: string;
  /** The gateway's own lines, where a failure has them. */
  output?: string[];
}

/** What every check works on. */
export interface Subject {
  ctx: Context;
  name: string;
  target: ProbeTarget;
  waitMs: number;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const row = (check: CheckName, outcome: VerifyCheck["outcome"], ms: number | null, detail: string, output?: string[]): VerifyCheck =>
  ({ check, outcome, ms, detail, ...(output && output.length > 0 ? { output } : {}) });

/** How a unit's main process ended, in words (CLD_* codes of ExecMainCode). */
export function exitText(s: Pick<RunState, "execMainCode" | "execMainStatus">): string {
  if (s.execMainCode === 1) return `exited with status ${s.execMainStatus}`;
  if (s.execMainCode === 2 || s.execMainCode === 3) return `killed by signal ${s.execMainStatus}`;
  return "no exit recorded";
}

/** Start-up: active and healthy within the wait, its port its own (bringUp's gate). */
export async function checkStart(start: () => Promise<{ elapsedMs: number; pid: number; port: number }>): Promise<VerifyCheck> {
  const began = Date.now();
  try {
    const up = await start();
    return row("start", "pass", up.elapsedMs, `active and healthy on port ${up.port} (pid ${up.pid})`);
  } catch (err) {
    if (!(err instanceof UnhealthyError)) throw err;
    return row("start", "fail", Date.now() - began, err.message, err.details);
  }
}

/** Its output reaches what `profiles logs` reads: the log file, or the journal. */
export async function checkLogs(s: Subject, mark: OutputMark): Promise<VerifyCheck> {
  if (mark.kind === "none") {
    return row("logs", "fail", null, "its output goes nowhere profiles can read: no journald here and no log directory (`profiles init --log-dir DIR`)");
  }
  const lines = await outputSince(s.ctx, mark, 3, { ownOnly: true });
  const where = mark.kind === "file" ? mark.file : "the journal";
  return lines.length > 0
    ? row("logs", "pass", null, `${lines.length === 3 ? "its first lines are" : "it wrote"} in ${where}`)
    : row("logs", "fail", null, `it wrote nothing to ${where} since it started (a gateway should say that it listens, and why it stops)`);
}

/** Reload: the template's ExecReload= (`init --reload-signal`); healthy again with the same main PID. */
export async function checkReload(s: Subject, reloadSignal: string): Promise<VerifyCheck> {
  if (!reloadSignal) return row("reload", "skip", null, "no reload signal configured (`profiles init --reload-signal HUP`)");
  const sd = await s.ctx.systemd();
  const before = (await sd.runState(unitName(s.name))).mainPid;
  const began = Date.now();
  try {
    const up = await bringUp(s.ctx, s.name, { reload: true, deadlineMs: s.waitMs, target: s.target });
    return row("reload", "pass", up.elapsedMs, `SIG${reloadSignal}: healthy again, same pid ${before}`);
  } catch (err) {
    if (!(err instanceof UnhealthyError)) throw err;
    return row("reload", "fail", Date.now() - began, `SIG${reloadSignal}: ${err.message}`, err.details);
  }
}

/**
 * Waits until the manager has restarted the unit (its restart count above `baseline`) and the new main
 * process answers the probe; the reason it did not, at the deadline.
 */
async function healthyAfterRestart(s: Subject, baseline: number, deadline: number): Promise<{ state: RunState } | { why: string }> {
  const sd = await s.ctx.systemd();
  const prober = await s.ctx.prober();
  let why = "not restarted";
  for (;;) {
    const state = await sd.runState(unitName(s.name));
    if (state.activeState === "failed") return { why: `the manager gave up: the unit failed (${state.result}, ${exitText(state)})` };
    if (state.nRestarts > baseline && isRunning(state)) {
      const verdict = await probe(prober, s.target);
      if (verdict.ok) return { state };
      why = `restarted (pid ${state.mainPid}), health ${verdict.reason}`;
    } else if (state.nRestarts > baseline) {
      why = `restarted, ${state.activeState}/${state.subState}`;
    }
    if (Date.now() >= deadline) return { why };
    await delay(Math.max(PROBE_EVERY_MS, 50));
  }
}

/** Crash: SIGKILL the main process; the manager must restart it, healthy again within the wait. */
export async function checkCrash(s: Subject): Promise<VerifyCheck> {
  const sd = await s.ctx.systemd();
  const before = await sd.runState(unitName(s.name));
  const began = Date.now();
  process.kill(before.mainPid, "SIGKILL");
  const after = await healthyAfterRestart(s, before.nRestarts, began + s.waitMs);
  if ("why" in after) return row("crash", "fail", Date.now() - began, `SIGKILL to pid ${before.mainPid}: not healthy again within ${Math.round(s.waitMs / 1000)} s: ${after.why}`);
  return row("crash", "pass", Date.now() - began, `SIGKILL to pid ${before.mainPid}: restarted by the manager as pid ${after.state.mainPid}, healthy`);
}

/** SIGTERM: a stop must end it cleanly within its stop timeout, not by the SIGKILL that follows it. */
export async function checkSigterm(s: Subject, stopTimeoutSec: number): Promise<VerifyCheck> {
  const sd = await s.ctx.systemd();
  const unit = unitName(s.name);
  const pid = (await sd.runState(unit)).mainPid;
  const began = Date.now();
  const job = await sd.stop(unit, { timeoutMs: (stopTimeoutSec + 30) * 1000 });
  const ms = Date.now() - began;
  const state = await sd.state(unit);
  // A clean stop leaves no exit status to read (the manager resets it); its result tells a SIGKILL apart.
  const how = `${state.execMainCode ? `${exitText(state)} ` : ""}after ${ms} ms (stop timeout ${stopTimeoutSec} s)`;
  if (job === "done" && state.result === "success") return row("sigterm", "pass", ms, `pid ${pid} stopped cleanly ${how}`);
  const why = state.result === "timeout" ? "it ignored SIGTERM and was killed when the stop timeout ran out" : `it did not exit cleanly (result ${state.result})`;
  return row("sigterm", "fail", ms, `pid ${pid}: ${why}; ${how}`);
}

// What the manager reports for an unaccounted uint64 property ("[not set]").
const NOT_SET = 2n ** 64n - 1n;

/**
 * Quota: with a MemoryMax of half what the gateway uses (and no swap to escape to), the kernel must kill
 * it, and the manager must say so. `limit(bytes)` puts the limit in force on the running unit.
 */
export async function checkQuota(s: Subject, limit: (bytes: bigint) => Promise<void>): Promise<VerifyCheck> {
  const sd = await s.ctx.systemd();
  const unit = unitName(s.name);
  const { MemoryCurrent } = await sd.properties(unit, ["MemoryCurrent"]);
  const used = typeof MemoryCurrent === "bigint" ? MemoryCurrent : typeof MemoryCurrent === "number" ? BigInt(MemoryCurrent) : NOT_SET;
  if (used >= NOT_SET || used === 0n) return row("quota", "skip", null, "the manager accounts no memory for the unit (no memory controller delegated to it), so a MemoryMax could not bite: see `profiles doctor`");
  const bytes = used / 2n;
  const before = await sd.runState(unit);
  const began = Date.now();
  await limit(bytes);
  const mib = (b: bigint) => `${(Number(b) / 1048576).toFixed(1)} MiB`;
  for (;;) {
    const state = await sd.runState(unit);
    if (state.result === "oom-kill" || state.nRestarts > before.nRestarts || state.mainPid !== before.mainPid) {
      const how = state.result === "oom-kill" ? "killed by the kernel's OOM killer (result oom-kill)" : `its main process ended (${exitText(state)}, result ${state.result})`;
      return row("quota", state.result === "oom-kill" ? "pass" : "fail", Date.now() - began, `MemoryMax=${mib(bytes)}, half the ${mib(used)} it used: ${how}`);
    }
    if (Date.now() - began >= s.waitMs) return row("quota", "fail", Date.now() - began, `still running ${Math.round(s.waitMs / 1000)} s after MemoryMax=${mib(bytes)} (it used ${mib(used)}): the limit does not bite`);
    await delay(50);
  }
}

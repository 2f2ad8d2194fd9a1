/** What a roll and an `apply` share around the runner: the one-roll-per-user lock, stop signals, the progress view. */
import { BusyError } from "../../errors.js";
import { acquireLock, type Lock } from "../../store/lock.js";
import type { Context } from "../context.js";
import { catchStopSignals, type StopSignals } from "../stop-signals.js";
import { recordFile } from "./record.js";
import type { RollRecorder } from "./recorder.js";
import { rollReport, type RollReport } from "./report.js";
import { runRoll } from "./runner.js";
import { plainView, silentView, type RollView } from "./view.js";

/** The "roll" lock, without waiting: a BusyError naming the roll that holds it and how to stop it. */
export async function takeRollLock(ctx: Context, command: string): Promise<Lock> {
  try {
    return await acquireLock(ctx.paths.locksDir, "roll", command, 0);
  } catch (err) {
    if (!(err instanceof BusyError)) throw err;
    const stop = err.holder ? `, or stop it after its current batch with \`kill -INT ${err.holder.pid}\`` : "";
    throw new BusyError(
      `another roll is running (one at a time per user): ${err.message}`,
      `wait for it to end (it records its progress in ${recordFile(ctx.paths)})${stop}, then run \`profiles roll\` again`,
      err.holder,
    );
  }
}

/**
 * Ctrl-C and SIGTERM ask the roll to stop once the current batch has settled; said in its progress view
 * once there is one, and under --json (no view) on stderr all the same.
 */
export function catchRollStop(ctx: Context, shown: { view: RollView | null }): StopSignals {
  const tell = (text: string): void => (shown.view && !ctx.json ? shown.view.message(text) : ctx.notice(text));
  return catchStopSignals(tell, {
    first: "stopping once the current batch has settled (never mid-restart); `profiles roll` finishes the roll later",
    again: "still waiting for the current batch to settle (SIGKILL stops at once; the next `profiles roll` then finishes the roll)",
  });
}

export async function makeView(ctx: Context): Promise<RollView> {
  if (ctx.json) return silentView();
  if (process.stderr.isTTY && process.stdout.isTTY) return (await import("./listr-view.js")).listrView();
  return plainView((line) => ctx.progress(line));
}

/** Run (or resume) the roll in `rec` behind a progress view; its report. */
export async function runOne(ctx: Context, rec: RollRecorder, resumed: boolean, stop: { signal(): string | null }, shown: { view: RollView | null }): Promise<RollReport> {
  const view = await makeView(ctx);
  shown.view = view;
  rec.onChange = (name, entry) => view.changed(name, entry);
  await view.begin(rec);
  try {
    await (resumed ? rec.resume() : rec.save());
    const outcome = await runRoll(ctx, rec, { observer: view, stopRequested: stop.signal });
    return rollReport(rec.record, outcome, resumed);
  } finally {
    await view.end();
  }
}


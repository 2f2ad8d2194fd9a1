/**
 * `profiles roll`: restart profiles batch by batch, each gated on staying healthy, reverting a failing one
 * to its newest known-good `.env` and halting. One roll at a time per user (the "roll" lock); its progress
 * is kept in `<state>/roll.json`. When that record is unfinished (the roll was stopped by Ctrl-C/SIGTERM,
 * killed, or lost the manager), the next `profiles roll` reports what was left in which state and finishes
 * that roll first, with its own plan and flags: profiles left `rolling` are restarted and gated again, a
 * profile left `reverting` has its revert finished, `pending` ones follow. A bare `profiles roll` (or one
 * naming the same profiles) stops there; one naming other profiles then runs as asked, unless the
 * finished roll halted.
 */
import fs from "node:fs/promises";
import type { Context } from "../core/context.js";
import { gateTarget } from "../core/health-target.js";
import { parseRollOptions, ROLL_DEFAULTS, type RollFlags, type RollOptions } from "../core/roll/options.js";
import { planRoll } from "../core/roll/plan.js";
import { loadRecord, newRecord, recordFile, type RollRecord } from "../core/roll/record.js";
import { RollRecorder } from "../core/roll/recorder.js";
import { foundRoll, foundText, rollReport, type RollReport } from "../core/roll/report.js";
import { nextStep, render } from "../core/roll/summary.js";
import { runRoll } from "../core/roll/runner.js";
import { plainView, silentView, type RollView } from "../core/roll/view.js";
import { BusyError, NoReloadCommandError, UsageError } from "../errors.js";
import { envFile } from "../paths.js";
import { isRunning } from "../processes/identity.js";
import { decodeBytes } from "../store/bytes.js";
import { parseEnv } from "../store/envfile.js";
import { acquireLock, type Lock } from "../store/lock.js";
import { listProfiles } from "../store/profiles.js";
import { assertEnabled, notDisabled } from "../core/enabled.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { names as namesOption } from "./options.js";

interface RollArgs extends RollFlags {
  names?: string[];
  reload: boolean;
  dryRun: boolean;
}

/** A reload roll is refused (exit 2, nothing done) when the template has no reload command. */
async function assertCanReload(ctx: Context, names: string[]): Promise<void> {
  const sd = await ctx.systemd();
  for (const name of names) {
    const { CanReload } = await sd.properties(unitName(name), ["CanReload"]);
    if (CanReload !== true) throw new NoReloadCommandError(name);
  }
}

/**
 * Every profile to roll must give a usable port and values systemd accepts (exit 12 naming its `.env`,
 * nothing restarted): its gate could vouch for nothing but the unit's state, or the unit would not start. Read leniently: a `.env` that does not parse elsewhere is
 * left to its gate, which reverts it (`bad-env`).
 */
async function assertPorts(ctx: Context, names: string[]): Promise<void> {
  const config = await ctx.config();
  for (const name of names) {
    // As bytes: a value that is not UTF-8 (which systemd refuses) must not pass as U+FFFD.
    const bytes = await fs.readFile(envFile(ctx.paths, name)).catch(() => null);
    if (bytes !== null) gateTarget(ctx.paths, config, name, parseEnv(decodeBytes(bytes)).entries);
  }
}

function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UsageError(`"${n}" is named twice: give each profile once, in the order to roll them`);
    seen.add(n);
  }
  return [...seen];
}

// A later invocation is the same roll when it names nothing or the same profiles: it only finishes that one.
function sameRequest(requested: string[] | null, record: RollRecord): boolean {
  return requested === null || JSON.stringify(requested) === JSON.stringify(record.requested ?? Object.keys(record.profiles));
}

async function takeRollLock(ctx: Context, names: string[]): Promise<Lock> {
  try {
    return await acquireLock(ctx.paths.locksDir, "roll", `profiles roll ${names.join(" ")}`.trim(), 0);
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

/** Ctrl-C and SIGTERM ask the roll to stop once the current batch has settled. */
function catchStopSignals(tell: (text: string) => void): { signal(): string | null; remove(): void } {
  let caught: string | null = null;
  const handler = (sig: NodeJS.Signals): void => {
    if (caught) return tell(`${sig}: still waiting for the current batch to settle (SIGKILL stops at once; the next \`profiles roll\` then finishes the roll)`);
    caught = sig;
    tell(`${sig}: stopping once the current batch has settled (never mid-restart); \`profiles roll\` finishes the roll later`);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: () => caught,
    remove() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

async function makeView(ctx: Context): Promise<RollView> {
  if (ctx.json) return silentView();
  if (process.stderr.isTTY && process.stdout.isTTY) return (await import("../core/roll/listr-view.js")).listrView();
  return plainView((line) => ctx.progress(line));
}

async function runOne(ctx: Context, rec: RollRecorder, resumed: boolean, stop: { signal(): string | null }, shown: { view: RollView | null }): Promise<RollReport> {
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

async function dryRun(ctx: Context, requested: string[] | null, options: RollOptions, names: string[]) {
  const found = await loadRecord(ctx.paths);
  const unfinished = found && !found.finished ? found : null;
  const rolls: RollReport[] = [];
  if (unfinished) rolls.push(rollReport(unfinished, "planned", true));
  if (!unfinished || !sameRequest(requested, unfinished)) rolls.push(rollReport(newRecord(requested, options, planRoll(names, options)), "planned", false));
  const previous = unfinished && foundRoll(unfinished, unfinished.pid !== process.pid && isRunning(unfinished));
  return render({ outcome: "planned", previous, rolls, next: null }, ["dry run: nothing was restarted or written"]);
}

export default defineCommand<RollArgs, { options: RollOptions; requested: string[] | null }>({
  command: "roll [names..]",
  describe: "Restart profiles in batches, each gated on staying healthy; revert a failing one to known-good and halt",
  options: [namesOption("Profiles to roll, in this order (default: every profile, by name)")],
  // The manager is reached as the roll needs it: a dry run does without.
  needs: { config: true, profiles: "names", manager: false },
  builder: (y) =>
    y
      .option("max-parallel", { type: "number", default: ROLL_DEFAULTS.maxParallel, describe: "Profiles restarted at once after the canaries" })
      .option("canary", { type: "number", default: ROLL_DEFAULTS.canary, describe: "Profiles in a first batch of their own" })
      .option("min-healthy-time", { type: "number", default: ROLL_DEFAULTS.minHealthyTime, describe: "Seconds each must stay active and healthy, unrestarted" })
      .option("healthy-deadline", { type: "number", default: ROLL_DEFAULTS.healthyDeadline, describe: "Seconds each has, from its restart, to pass" })
      .option("progress-deadline", { type: "number", default: ROLL_DEFAULTS.progressDeadline, describe: "Seconds the roll may go without a profile turning healthy (0: no limit)" })
      .option("auto-revert", { type: "boolean", default: true, describe: "Put a failing profile back on its last known-good .env (--no-auto-revert: leave it)" })
      .option("reload", { type: "boolean", default: false, describe: "Reload each profile (the template's ExecReload=, e.g. SIGHUP) instead of restarting it; still health-gated, and its PID must stay" })
      .option("dry-run", { type: "boolean", default: false, describe: "Print the plan (batches, order) and change nothing" })
      .example("$0 roll", "every profile, one at a time")
      .example("$0 roll --canary 1 --max-parallel 3", "one canary, then three at a time")
      .example("$0 roll liam ops --dry-run", "show the plan for two profiles")
      .example("$0 roll --reload", "apply .env changes a gateway can take without a restart (init --reload-signal HUP)"),
  parse: (args) => ({ options: parseRollOptions(args), requested: args.names && args.names.length > 0 ? uniqueNames(args.names) : null }),
  async run(args, ctx, { options, requested }) {
    // Profiles kept down by `profiles disable` are not rolled: left out of "all", refused when named (exit 2).
    if (requested) await assertEnabled(ctx, requested);
    const all = requested ?? (await listProfiles(ctx.paths));
    const names = requested ?? (await notDisabled(ctx, all));
    if (names.length < all.length) ctx.progress(`left out, disabled (\`profiles enable NAME\` brings one back): ${all.filter((n) => !names.includes(n)).join(" ")}`);
    if (options.reload) await assertCanReload(ctx, names);
    await assertPorts(ctx, names);
    if (args.dryRun) return dryRun(ctx, requested, options, names);

    // A bad record is refused before the lock is taken, so that nothing is written and no roll is made
    // to wait; it is read again under the lock, where it counts.
    await loadRecord(ctx.paths);
    const lock = await takeRollLock(ctx, names);
    const shown: { view: RollView | null } = { view: null };
    const stop = catchStopSignals((text) => (shown.view ? shown.view.message(text) : ctx.progress(text)));
    try {
      const found = await loadRecord(ctx.paths);
      const unfinished = found && !found.finished ? found : null;
      const rolls: RollReport[] = [];
      const extra: string[] = [];
      // Taken before resuming: the recorder changes the record as it goes.
      const previous = unfinished && foundRoll(unfinished);
      if (unfinished && previous) {
        for (const line of foundText(previous)) ctx.progress(line);
        const report = await runOne(ctx, new RollRecorder(ctx.paths, unfinished), true, stop, shown);
        rolls.push(report);
        if (report.outcome !== "completed" || sameRequest(requested, unfinished)) {
          if (report.outcome !== "completed" && !sameRequest(requested, unfinished)) extra.push(`the roll you asked for (${names.join(" ")}) was not started`);
          return render({ outcome: report.outcome, previous, rolls, next: nextStep(report) }, extra);
        }
      }
      if (names.length === 0) return render({ outcome: "nothing-to-roll", previous, rolls, next: "add a profile with `profiles add NAME`" });
      const report = await runOne(ctx, new RollRecorder(ctx.paths, newRecord(requested, options, planRoll(names, options))), false, stop, shown);
      rolls.push(report);
      return render({ outcome: report.outcome, previous, rolls, next: nextStep(report) }, extra);
    } finally {
      stop.remove();
      await lock.release();
    }
  },
});

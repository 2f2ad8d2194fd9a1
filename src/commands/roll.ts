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
import { declareRollFlags, parseRollOptions, type RollFlags, type RollOptions } from "../core/roll/options.js";
import { planRoll } from "../core/roll/plan.js";
import { loadRecord, newRecord, type RollRecord } from "../core/roll/record.js";
import { RollRecorder } from "../core/roll/recorder.js";
import { foundRoll, foundText, rollReport, type RollReport } from "../core/roll/report.js";
import { nextStep, render } from "../core/roll/summary.js";
import { catchRollStop, runOne, takeRollLock } from "../core/roll/session.js";
import type { RollView } from "../core/roll/view.js";
import { ManagerUnreachableError, NoReloadCommandError, UsageError } from "../errors.js";
import { inspectRunning } from "../core/inspect.js";
import { envFile } from "../paths.js";
import { isRunning } from "../processes/identity.js";
import { decodeBytes } from "../store/bytes.js";
import { parseEnv } from "../store/envfile.js";
import { listProfiles } from "../store/profiles.js";
import { assertEnabled, notDisabled } from "../core/enabled.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { names as namesOption } from "./options.js";

interface RollArgs extends RollFlags {
  names?: string[];
  reload: boolean;
  dryRun: boolean;
  changed: boolean;
}

/** Of `names`, those whose `.env` differs from what their running gateway started with; null when the manager cannot be asked. */
async function pendingOf(ctx: Context, names: string[]): Promise<string[] | null> {
  try {
    return (await inspectRunning(ctx, await ctx.config(), names)).filter((r) => r.pendingRestart === true).map((r) => r.name);
  } catch (err) {
    if (err instanceof ManagerUnreachableError) return null;
    throw err;
  }
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

async function dryRun(ctx: Context, requested: string[] | null, options: RollOptions, names: string[], pending: string[] | null) {
  const found = await loadRecord(ctx.paths);
  const unfinished = found && !found.finished ? found : null;
  const rolls: RollReport[] = [];
  if (unfinished) rolls.push(rollReport(unfinished, "planned", true));
  if (!unfinished || !sameRequest(requested, unfinished)) rolls.push(rollReport(newRecord(requested, options, planRoll(names, options)), "planned", false));
  const previous = unfinished && foundRoll(unfinished, unfinished.pid !== process.pid && isRunning(unfinished));
  const marks = pending && pending.length > 0 ? [`pending restart (the .env changed since the gateway started): ${pending.join(", ")}`] : [];
  return render({ outcome: "planned", previous, rolls, next: null }, [...marks, "dry run: nothing was restarted or written"]);
}

export default defineCommand<RollArgs, { options: RollOptions; requested: string[] | null }>({
  command: "roll [names..]",
  describe: "Restart profiles in batches, each gated on staying healthy; revert a failing one to known-good and halt",
  options: [namesOption("Profiles to roll, in this order (default: every profile, by name)")],
  // The manager is reached as the roll needs it: a dry run does without.
  needs: { config: true, profiles: "names", manager: false },
  builder: (y) =>
    declareRollFlags(y)
      .option("reload", { type: "boolean", default: false, describe: "Reload each profile (the template's ExecReload=, e.g. SIGHUP) instead of restarting it; still health-gated, and its PID must stay" })
      .option("changed", { type: "boolean", default: false, describe: "Only profiles whose .env changed since their gateway started (pending restart)" })
      .option("dry-run", { type: "boolean", default: false, describe: "Print the plan (batches, order) and change nothing" })
      // Read from the command line by the fleet roll (fleet/fleet-roll.ts), which checks them.
      .option("canary-hosts", { type: "string", describe: "With --host: hosts rolled first, as a batch of their own; one failing halts (default 0)" })
      .option("max-parallel-hosts", { type: "string", describe: "With --host: hosts rolled at once after the canaries (default 1)" })
      .option("max-fail-percent", { type: "string", describe: "With --host: failed hosts, in % of all, that halt the roll once their batch settles (default 0: any)" }),
  parse: (args) => ({ options: parseRollOptions(args), requested: args.names && args.names.length > 0 ? uniqueNames(args.names) : null }),
  async run(args, ctx, { options, requested: asked }) {
    // Profiles kept down by `profiles disable` are not rolled: left out of "all", refused when named (exit 2).
    if (asked) await assertEnabled(ctx, asked);
    let requested = asked;
    const all = requested ?? (await listProfiles(ctx.paths));
    let names = requested ?? (await notDisabled(ctx, all));
    if (names.length < all.length) ctx.progress(`left out, disabled (\`profiles enable NAME\` brings one back): ${all.filter((n) => !names.includes(n)).join(" ")}`);
    const pending = args.changed || args.dryRun ? await pendingOf(ctx, names) : null;
    if (args.changed) {
      // The manager must be asked which run with an older .env: unreachable, the roll stops here (10).
      if (pending === null) await ctx.systemd();
      names = names.filter((n) => pending!.includes(n));
      requested = names;
    }
    if (options.reload) await assertCanReload(ctx, names);
    await assertPorts(ctx, names);
    if (args.dryRun) return dryRun(ctx, requested, options, names, pending);

    // A bad record is refused before the lock is taken, so that nothing is written and no roll is made
    // to wait; it is read again under the lock, where it counts.
    await loadRecord(ctx.paths);
    const lock = await takeRollLock(ctx, `profiles roll ${names.join(" ")}`.trim());
    const shown: { view: RollView | null } = { view: null };
    const stop = catchRollStop(ctx, shown);
    try {
      const found = await loadRecord(ctx.paths);
      // Asked again by a resumed fleet roll after this host's part of it ended (its driver was killed meanwhile): not twice.
      const fleet = ctx.env.AP_FLEET_ROLL || undefined;
      if (fleet && found?.fleet === fleet && found.finished) {
        const report = rollReport(found, found.finished.outcome, true);
        return render({ outcome: report.outcome, previous: null, rolls: [report], next: nextStep(report) }, [`this host's part of fleet roll ${fleet} had already ended`]);
      }
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
      if (names.length === 0 && args.changed) return render({ outcome: "nothing-to-roll", previous, rolls, next: null }, ["no profile has a pending restart: every running gateway started with its .env as it is"]);
      if (names.length === 0) return render({ outcome: "nothing-to-roll", previous, rolls, next: "add a profile with `profiles add NAME`" });
      const report = await runOne(ctx, new RollRecorder(ctx.paths, { ...newRecord(requested, options, planRoll(names, options)), ...(fleet ? { fleet } : {}) }), false, stop, shown);
      rolls.push(report);
      return render({ outcome: report.outcome, previous, rolls, next: nextStep(report) }, extra);
    } finally {
      stop.remove();
      await lock.release();
    }
  },
});

/**
 * `profiles apply`: converge on a manifest. Under the "roll" lock for the whole run (no roll, and no other
 * apply, runs meanwhile): profiles the manifest no longer names are removed (--prune), each changed
 * profile gets ONE new generation in one transaction, new profiles are added (started and gated as `add`
 * does), and then only the changed profiles whose `.env` changed are rolled: batches, health gate,
 * revert and halt. The roll's record is written before the first change, so that an apply killed half-way
 * leaves a roll that the next apply finishes first (as `profiles roll` would), before it plans again.
 * Ctrl-C and SIGTERM stop it after the step under way, as a SIGKILL would have between two steps, and
 * say where. Nothing changed, nothing written: a second apply is a no-op.
 */
import fs from "node:fs/promises";
import type { Config } from "../../config.js";
import { AppError, ExitCode, InterruptedError, UnhealthyError } from "../../errors.js";
import type { Limits } from "../../store/limits.js";
import { withLimits } from "../../store/limits-change.js";
import { writeProfileSettings } from "../../store/profile-settings.js";
import { ENV_HEADER } from "../../store/profiles.js";
import { serializeEnv } from "../../store/envfile.js";
import { unitName } from "../../systemd/types.js";
import { addProfile, type AddResult } from "../add-profile.js";
import type { Context } from "../context.js";
import { initHost, type InitResult } from "../init-host.js";
import { removeProfile } from "../remove-profile.js";
import type { RollOptions } from "../roll/options.js";
import { planRoll } from "../roll/plan.js";
import { loadRecord, newRecord, recordFile } from "../roll/record.js";
import { RollRecorder } from "../roll/recorder.js";
import type { RollReport } from "../roll/report.js";
import { catchRollStop, runOne, takeRollLock } from "../roll/session.js";
import type { RollView } from "../roll/view.js";
import { deferStopSignals, Steps } from "../stop-signals.js";
import { withProfile } from "../transaction.js";
import { reloadIfNeeded } from "../unit-reload.js";
import type { Manifest } from "./parse.js";
import { planManifest, type ManifestPlan, type ProfileChange, type Target } from "./plan.js";

/** What an apply did. */
export interface ApplyResult {
  /** The roll an earlier apply left unfinished, which this one finished first (null: none). */
  resumed: RollReport | null;
  plan: ManifestPlan;
  /** What setting the host settings did, as `init --json` reports it (null: none changed). */
  init: InitResult | null;
  removed: string[];
  /** Changed profiles and the generation each got (null: only its probe settings or enable state changed). */
  changed: { name: string; generation: number | null }[];
  added: AddResult[];
  /** New profiles that did not pass their gate: they exist, and `profiles status NAME` tells why. */
  addFailed: { name: string; message: string }[];
  roll: RollReport | null;
}

/** Apply `manifest`; the plan it followed and what each step did. */
export async function applyManifest(
  outer: Context,
  current: Config,
  manifest: Manifest,
  opts: { prune: boolean; roll: RollOptions; waitMs: number; confirm(plan: ManifestPlan, resuming: string[] | null): Promise<void> },
): Promise<ApplyResult> {
  // A collision is the manifest's fault, not a busy lock's: refused before the lock (and again under it, where it counts).
  const first = await planManifest(outer, current, manifest, opts.prune);
  let ctx = outer;
  const lock = await takeRollLock(ctx, `profiles apply -f ${manifest.file}`);
  try {
    const found = await loadRecord(ctx.paths);
    const unfinished = found && !found.finished ? found : null;
    if (unfinished && unfinished.origin !== "apply") {
      throw new AppError("an earlier roll was stopped before it finished: it comes first", ExitCode.rollHalted, "run `profiles roll` to finish it, then apply again");
    }
    // An apply stopped half-way is finished first, as `profiles roll` would: its profiles may hold changes
    // its roll has not gated yet. Only then is the manifest planned again, against what that left. Asked
    // first, since finishing it restarts profiles.
    if (unfinished) await opts.confirm(first.plan, Object.keys(unfinished.profiles));
    const resumed = unfinished ? await rollWithStopCatcher(ctx, new RollRecorder(ctx.paths, unfinished), true) : null;
    const { plan, targets, config, host } = await planManifest(ctx, current, manifest, opts.prune);
    const result: ApplyResult = { resumed, plan, init: null, removed: [], changed: [], added: [], addFailed: [], roll: null };
    if (resumed && resumed.outcome !== "completed") return result;
    if (plan.pending === 0) return result;
    if (!unfinished) await opts.confirm(plan, null);

    const removals = plan.profiles.filter((c) => c.action === "remove");
    const changes = plan.profiles.filter((c) => c.action === "change");
    const toRoll = changes.filter((c) => c.restart).map((c) => c.name);
    // Those with a port first: one without takes the lowest free port left.
    const adds = plan.profiles.filter((c) => c.action === "add").sort((a, b) => Number(targets.get(a.name)!.portRequested === null) - Number(targets.get(b.name)!.portRequested === null));
    // The roll of `names` as apply records it, with the options it was given.
    const rollOf = (names: string[]): RollRecorder => new RollRecorder(ctx.paths, newRecord(names, opts.roll, planRoll(names, opts.roll), "apply"));
    const rec = toRoll.length > 0 ? rollOf(toRoll) : null;
    const roll = `the roll (${toRoll.join(" ")})`;
    const planned = [
      ...removals.map((c) => `remove ${c.name}`), ...(plan.host.length > 0 ? ["the host settings"] : []), ...changes.map((c) => `change ${c.name}`),
      ...adds.map((c) => `add ${c.name}`), ...(rec ? [roll] : []),
    ];
    let recorded = false;
    // The profiles whose new generation is written: the only ones a cut-down record must roll.
    const written = new Set<string>();
    // The same command, not one rebuilt here: its flags (--prune, the roll's, --yes) and its manifest (a
    // file, or standard input) are what converges.
    const again = (): string => "run the same `profiles apply` again (the same manifest and flags): it finishes what this one began, then does what is left";
    // Until the roll, Ctrl-C and SIGTERM let the step under way finish (a wait in it given up) and begin no
    // other: the next apply plans again, as after a SIGKILL. The roll stops on its own terms.
    await deferStopSignals(ctx.notice, async (signal) => {
      const steps = new Steps(signal, planned, again);
      // Removed under the config they were made with (their log files are where its log dir says).
      for (const c of removals) {
        await steps.next(c.name, () => removeProfile(ctx, c.name, false, `profiles apply (prune ${c.name})`, signal), () => `removed ${c.name}`);
        result.removed.push(c.name);
      }
      // Then the host, as `init` does it: profiles are changed and added under the new config.ini. A log dir
      // the manifest does not name stays as it is (init would choose one where none is set and no journald runs).
      if (plan.host.length > 0) {
        result.init = await steps.next("the host settings", () => initHost(ctx, { logDir: current.logDir, ...host.settings }, host.policy), () => "the host settings set");
        ctx = { ...outer, config: async () => config };
        // Where new profiles' .env files go (the env-path changes only while there are none).
        ctx.paths.envPath = config.envPath;
      }
      // Recorded before the first change: an apply stopped from here on leaves a roll the next apply (or
      // `profiles roll`) finishes. Not after the signal: no change is begun then, and there is nothing to roll.
      if (rec && !signal.aborted) {
        await rec.save();
        recorded = true;
      }
      for (const c of changes) {
        const generation = await steps.next(c.name, () => changeProfile(ctx, c, targets.get(c.name)!, signal, written), () => `changed ${c.name}`);
        result.changed.push({ name: c.name, generation });
      }
      for (const c of adds) {
        const t = targets.get(c.name)!;
        const extra = new Map([...t.entries].filter(([k]) => k !== config.portVar));
        const p = { port: t.portRequested, extra, enable: c.enabled, start: c.enabled, waitMs: opts.waitMs, command: `profiles apply (add ${c.name})`, limits: t.limits, probe: t.probe, stopSignal: signal };
        const add = async (): Promise<boolean> => {
          try {
            result.added.push(await addProfile(ctx, c.name, p));
            return true;
          } catch (err) {
            if (!(err instanceof UnhealthyError)) throw err;
            result.addFailed.push({ name: c.name, message: err.message });
            return false;
          }
        };
        await steps.next(c.name, add, (healthy) => `added ${c.name}${healthy ? "" : " (not healthy)"}`);
      }
      // No profile of the roll is restarted after the signal: its record kept, the next apply finishes it.
      if (rec) await steps.next(roll, async () => undefined, () => roll);
    }).catch(async (err: unknown) => {
      // Stopped among the changes (a signal, or a change that failed): the record keeps only the profiles
      // changed, or goes; else the next apply would restart the unchanged ones to finish it, and then again
      // once it has changed them. A SIGKILL here still leaves the whole record, as before.
      if (recorded) {
        // The change under way counts once its .env is written (a lock wait or a port refused wrote nothing).
        const made = toRoll.filter((n) => written.has(n));
        if (made.length === 0) await fs.rm(recordFile(ctx.paths), { force: true });
        // Every change made: the record saved holds them all already.
        else if (made.length < toRoll.length) await rollOf(made).save();
      }
      throw err;
    });
    if (rec) result.roll = await rollWithStopCatcher(ctx, rec, false);
    return result;
  } finally {
    await lock.release();
  }
}

/** Runs (or resumes) one roll with Ctrl-C and SIGTERM caught: they stop it after the batch under way. */
async function rollWithStopCatcher(ctx: Context, rec: RollRecorder, resumed: boolean): Promise<RollReport> {
  const shown: { view: RollView | null } = { view: null };
  const stop = catchRollStop(ctx, shown);
  try {
    return await runOne(ctx, rec, resumed, stop, shown);
  } finally {
    stop.remove();
  }
}

/** One changed profile in one transaction: its `.env` and limits as one generation, its probe settings and enable state. */
async function changeProfile(ctx: Context, c: ProfileChange, t: Target, stopSignal: AbortSignal, written: Set<string>): Promise<number | null> {
  const moves = c.port !== c.portBefore;
  return withProfile(ctx, c.name, { command: `profiles apply (${c.name})`, ports: moves, stopSignal }, async (tx) => {
    let generation: number | null = null;
    if (c.env.length > 0 || c.limits.length > 0) {
      if (moves && c.port !== null) await tx.assertPort(c.port);
      const text = c.env.length > 0 ? serializeEnv(t.entries, ENV_HEADER) : tx.envText();
      const reason = `apply: ${[...c.env.map((d) => d.key), ...c.limits.map((l) => `${l.key}=${l.after ?? "(default)"}`)].join(", ")}`;
      if (c.limits.length > 0) {
        const limits: Limits = t.limits;
        const r = await withLimits(ctx.paths, c.name, limits, () => tx.commit(text, reason, { always: true }));
        await reloadIfNeeded(await ctx.systemd(), r.dropInChanged, async () => [unitName(c.name)]);
        generation = r.generation.number;
      } else generation = (await tx.commit(text, reason)).number;
      written.add(c.name);
    }
    if (c.probe.length > 0) await writeProfileSettings(ctx.paths, c.name, t.probe);
    if (c.enabledBefore !== c.enabled) {
      // Turned on: enabled here, started by the roll that follows; turned off: stopped now.
      if (c.enabled) await (await ctx.systemd()).enable([unitName(c.name)]);
      else {
        await tx.disableAndStop(60_000).catch((err: unknown) => {
          throw err instanceof InterruptedError && generation !== null ? err.noting(`the change is kept as generation ${generation}`) : err;
        });
      }
    }
    return generation;
  });
}

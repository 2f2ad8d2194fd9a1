/**
 * Taking one profile over from its hand-written unit: its `.env` kept as generation 1, the old unit
 * disabled and stopped, ours enabled, started and gated. When anything of that fails, the old unit is put
 * back as it was and what import made for the profile is taken away: the profile runs as before.
 */
import fs from "node:fs/promises";
import { AppError, InterruptedError, PortTakenError, SystemdError } from "../../errors.js";
import { shellWord } from "../../render/shell.js";
import { envOutside, profileDir } from "../../paths.js";
import { ensureDir } from "../../store/atomic.js";
import { generationsDir } from "../../store/generation-files.js";
import { recordedPorts } from "../../store/profiles.js";
import { unitName, type SystemdManager } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { disableLinks, isEnabledState } from "../enabled.js";
import { notStopped, unstoppable } from "../stop-signals.js";
import { withProfile, type KnownGoodMark } from "../transaction.js";
import { wasActive, wasEnabled, type OldProfile } from "./discover.js";

/** How one profile's import ended. */
export interface TakeOverResult {
  name: string;
  outcome: "imported" | "failed";
  generation: number | null;
  pid: number | null;
  elapsedMs: number;
  /** After a passing gate: the generation marked known-good, or why none was. */
  knownGood: KnownGoodMark | null;
  /** Why it failed (an error's message, redacted as all output). */
  error: string | null;
  details: string[];
  /** After a failure: the old unit as it was (enabled, running) again; null when nothing was changed. */
  restored: { enabled: boolean; running: boolean } | null;
}

/**
 * Import `old`: keep its `.env`, swap the old unit for ours, gate ours within `waitMs`; on failure, undo it
 * all. `stopSignal` (the verb's deferred Ctrl-C) ends the wait for the lock or for ours, and then the
 * profile is put back as after a failure (the old unit's stop, a job under way, is waited for):
 * an InterruptedError saying so.
 */
export async function takeOver(ctx: Context, old: OldProfile, waitMs: number, stopSignal?: AbortSignal): Promise<TakeOverResult> {
  const sd = await ctx.systemd();
  const base = { name: old.name, generation: null, pid: null, elapsedMs: 0, knownGood: null, details: [], restored: null };
  return withProfile(ctx, old.name, { command: `profiles import ${old.name}`, ports: true, create: true, stopSignal }, async (tx) => {
    // What is undone on failure: only what did not exist before import.
    // lstat: a symlink that leads nowhere is still the user's, never removed by the undo.
    const targetExisted = (await fs.lstat(old.target).catch(() => null)) !== null;
    const mode = targetExisted ? await fs.stat(old.target).then((st) => st.mode & 0o777, () => null) : null;
    let touchedOld = false;
    try {
      // Under the ports lock now: an `add` since the checks may have recorded this port.
      const holder = (await recordedPorts(ctx.paths, tx.config.portVar)).get(old.port);
      if (holder !== undefined) throw new PortTakenError(old.port, `profile "${holder}"`, `give "${old.name}" another ${tx.config.portVar} in ${old.source}`);
      const gen = await tx.imported(old.bytes);
      await ensureDir(profileDir(ctx.paths, old.name), 0o700);
      // The same file the old unit read holds secrets: 0600 as every .env of ours.
      if (mode !== null && mode !== 0o600) await fs.chmod(old.target, 0o600);
      // The last point where nothing of the old unit has been touched: a signal now leaves it running.
      notStopped(stopSignal, old.name, `profiles import ${old.name}`);
      touchedOld = true;
      // Cut from here until ours is asked to start, the profile would run on neither unit.
      await unstoppable(ctx.notice, `taking ${old.name} off ${old.unit}`, async () => {
        // Its runtime links too: left, they would start it beside ours with its target.
        const left = await disableLinks(sd, old.unit);
        if (isEnabledState(left)) {
          // A link outside the user's directories (`systemctl --global enable`): not ours to remove.
          // The failure's message is all import shows of it: the fix goes in it.
          throw new SystemdError(`${old.name}: ${old.unit} is still ${left} by a link outside your unit directories, and would start beside ours; ask root to run \`systemctl --global disable ${shellWord(old.unit)}\`, then import it again`);
        }
        if (wasActive(old)) await sd.stop(old.unit, { timeoutMs: waitMs });
        // A signal during the stop: straight on to the undo, still unstoppable, before ours is enabled
        // (between the two, a second signal would end the process with the profile on neither unit).
        if (stopSignal?.aborted) throw new InterruptedError(String(stopSignal.reason), `${old.name}: ${String(stopSignal.reason)} came while ${old.unit} stopped`);
      });
      const { up, knownGood } = await tx.enableAndStart(waitMs);
      return { ...base, outcome: "imported", generation: gen.number, pid: up.state.mainPid, elapsedMs: up.elapsedMs, knownGood, error: null };
    } catch (err) {
      const restored = await unstoppable(ctx.notice, `putting ${old.name} back on ${old.unit}`, () => undo(ctx, sd, old, { targetExisted, mode, touchedOld }, waitMs));
      if (err instanceof InterruptedError) throw new InterruptedError(err.signal, `${old.name}: ${err.signal} stopped its import before its gate; ${undoneText(old.name, old.unit, restored)}`);
      const details = err instanceof AppError && "details" in err ? (err as { details: string[] }).details : [];
      return { ...base, outcome: "failed", error: err instanceof Error ? err.message : String(err), details, restored };
    }
  });
}

/** What `undo` left of the import of `name`, whose old unit is `oldUnit`. */
export function undoneText(name: string, oldUnit: string, restored: TakeOverResult["restored"]): string {
  if (!restored) return `nothing was changed for ${name}`;
  return `${oldUnit} put back: ${restored.enabled ? "enabled" : "not enabled"}, ${restored.running ? "running" : "NOT running"}; nothing of the import is left`;
}

/** Ours stopped, disabled and gone; the old unit enabled and started again as it was. Returns how the old unit is now. */
async function undo(
  ctx: Context, sd: SystemdManager, old: OldProfile, made: { targetExisted: boolean; mode: number | null; touchedOld: boolean }, waitMs: number,
): Promise<TakeOverResult["restored"]> {
  const ours = unitName(old.name);
  await sd.disable([ours]).catch(() => {});
  await sd.stop(ours, { timeoutMs: waitMs }).catch(() => {});
  await sd.resetFailed(ours).catch(() => {});
  await fs.rm(generationsDir(ctx.paths, old.name), { recursive: true, force: true });
  // The profile's directory is ours alone; the .env in it (no env-path) was copied there by import.
  await fs.rm(profileDir(ctx.paths, old.name), { recursive: true, force: true });
  if (envOutside(ctx.paths) && !made.targetExisted) await fs.rm(old.target, { force: true });
  if (made.mode !== null) await fs.chmod(old.target, made.mode).catch(() => {});
  if (!made.touchedOld) return null;
  // As it was enabled (a runtime link is not made a persistent one), unless a link import could not remove still enables it.
  if (wasEnabled(old) && !isEnabledState(await sd.unitFileState(old.unit))) await sd.enable([old.unit], { runtime: old.unitFileState.endsWith("-runtime") });
  if (wasActive(old)) {
    await sd.resetFailed(old.unit);
    await sd.start(old.unit, { timeoutMs: waitMs });
  }
  const now = await sd.runState(old.unit);
  return { enabled: wasEnabled(old) ? (await sd.unitFileState(old.unit)) === old.unitFileState : false, running: now.activeState === "active" };
}

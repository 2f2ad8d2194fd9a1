/** Putting an earlier generation of a profile's `.env` back: `profiles rollback`, and `roll`'s auto-revert. */
import { NoRollbackTargetError } from "../errors.js";
import { parseEnv } from "../store/envfile.js";
import { corruptGenerationError, generationFile, newestIntact, type CorruptGeneration, type Generation } from "../store/generations.js";
import { assertProfileExists } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";
import { gateTarget } from "./health-target.js";
import { NOT_RESTARTED, withProfile, type ProfileTxOptions, type RestartOutcome } from "./transaction.js";
import { assertEnabled } from "./enabled.js";

type History = { generations: Generation[]; current: number | null; fileSha256: string | null };

/**
 * What a rollback may restore by default, oldest first: the known-good generations older than the current
 * (all of them when the file was edited by hand) whose bytes differ from the file on disk.
 */
export function rollbackCandidates(h: History): Generation[] {
  const below = h.current ?? Number.POSITIVE_INFINITY;
  return h.generations.filter((g) => g.knownGood && g.number < below && g.sha256 !== h.fileSha256);
}

/** The newest of the rollback candidates, as the index records them (its file unchecked). */
export function rollbackTarget(h: History): Generation | null {
  return rollbackCandidates(h).at(-1) ?? null;
}

/**
 * The generation a rollback restores by default: the newest candidate whose file is intact, and the
 * corrupt ones passed over. When every candidate is corrupt, the newest one's error (exit 12).
 */
async function defaultTarget(ctx: Context, name: string, h: History): Promise<{ to: number; skipped: CorruptGeneration[] }> {
  const { generation, skipped } = await newestIntact(ctx.paths, name, rollbackCandidates(h));
  if (generation) return { to: generation.number, skipped };
  if (skipped[0]) throw corruptGenerationError(name, skipped[0]);
  throw new NoRollbackTargetError(name, h.current);
}

/** `stopSignal`: the verb's deferred Ctrl-C (ProfileTxOptions); the sweep gives none. */
export interface RollbackOptions extends Pick<ProfileTxOptions, "stopSignal"> {
  /** The generation to restore; default: the newest rollback candidate whose file is intact. */
  to?: number;
  restart: boolean;
  waitMs: number;
}

/** What a rollback did. `generation` is the new one holding the restored bytes (null: the target was already current). */
export interface RollbackResult extends RestartOutcome {
  name: string;
  from: number | null;
  to: number;
  generation: number | null;
  /** Newer known-good generations passed over because their files are corrupt (default target only; absent when none). */
  skipped?: CorruptGeneration[];
}

/**
 * Restore a generation, then (with `restart`) reset a failed state, restart, wait until healthy and mark
 * it known-good, all in one transaction. Throws UnhealthyError when the profile is still not healthy with
 * the restored file, and BadFileError, restoring nothing, when a restart was asked for and the generation
 * has no usable port.
 */
export async function rollbackProfile(ctx: Context, name: string, opts: RollbackOptions): Promise<RollbackResult> {
  const config = await ctx.config();
  await assertProfileExists(ctx.paths, name);
  return withProfile(ctx, name, { command: `profiles rollback ${name}`, ports: true, stopSignal: opts.stopSignal }, async (tx) => {
    const h = await tx.generations.history();
    let chosen: { to: number; skipped: CorruptGeneration[] };
    if (opts.to !== undefined) {
      await tx.generations.text(opts.to);
      chosen = { to: opts.to, skipped: [] };
    } else {
      chosen = await defaultTarget(ctx, name, h);
    }
    const { to, skipped } = chosen;
    const result: RollbackResult = { name, from: h.current, to, generation: null, ...NOT_RESTARTED, ...(skipped.length > 0 ? { skipped } : {}) };
    // A restart needs a port to gate on, and a profile not kept down: else the generation is not restored.
    if (opts.restart) gateTarget(ctx.paths, config, name, parseEnv(await tx.generations.text(to)).entries, generationFile(ctx.paths, name, to));
    if (opts.restart) await assertEnabled(ctx, [name]);
    if (to !== h.current) result.generation = (await tx.restore(to, `rollback to ${to}`)).number;
    if (!opts.restart) return result;

    ctx.progress(`restarting ${unitName(name)} with generation ${to}, waiting for ${config.healthPath} ...`);
    const kept = result.generation === null ? `generation ${to} is current` : `generation ${to} is restored as generation ${result.generation}`;
    return { ...result, ...(await tx.restartAfterChange(opts.waitMs, kept, `run \`profiles history ${name}\`, then \`profiles rollback ${name} --to GEN\``)) };
  });
}

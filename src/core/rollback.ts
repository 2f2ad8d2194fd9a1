/** Putting an earlier generation of a profile's `.env` back: `profiles rollback`, and `roll`'s auto-revert. */
import fs from "node:fs/promises";
import { NoRollbackTargetError, UnhealthyError } from "../errors.js";
import { envFile } from "../paths.js";
import { parseEnv } from "../store/envfile.js";
import { corruptGenerationError, generationFile, history, markKnownGood, newestIntact, readGeneration, type CorruptGeneration, type Generation } from "../store/generations.js";
import { assertProfileExists, portOf } from "../store/profiles.js";
import { commitLimits } from "../store/limits-change.js";
import { unitName } from "../systemd/types.js";
import { bringUp } from "./bring-up.js";
import type { Context } from "./context.js";
import { gateTarget } from "./health-target.js";
import { assertPortChange, withEnvLocks } from "./port-change.js";

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

/**
 * Commit generation `gen`'s exact bytes as a NEW generation (so that the restore can itself be undone),
 * under the "ports" and the profile's lock, which it takes itself: do not call it holding either. A port
 * that differs from the current one gets `add`'s collision checks. UsageError when `gen` is not kept;
 * nothing is written then.
 */
export async function restoreGeneration(ctx: Context, name: string, gen: number, reason: string): Promise<Generation> {
  const config = await ctx.config();
  await assertProfileExists(ctx.paths, name);
  await readGeneration(ctx.paths, name, gen);
  return withEnvLocks(ctx, name, `profiles ${reason} (${name})`, true, async () => {
    // Read again under the lock: a prune may have dropped it meanwhile.
    const text = await readGeneration(ctx.paths, name, gen);
    const port = portOf(parseEnv(text).entries, config.portVar);
    // The file on disk may be broken by hand: read its port leniently, restoring over it is the fix.
    const onDisk = await fs.readFile(envFile(ctx.paths, name), "utf8").catch(() => "");
    if (port !== null) await assertPortChange(ctx, config, name, portOf(parseEnv(onDisk).entries, config.portVar), port);
    // The generation's resource limits come back with its bytes (a generation from before limits had none).
    const limits = (await history(ctx.paths, name)).generations.find((g) => g.number === gen)?.limits ?? {};
    const { generation: committed, dropInChanged } = await commitLimits(ctx.paths, name, limits, reason, { keep: config.keepGenerations, text });
    if (dropInChanged) await (await ctx.systemd()).reload();
    return committed;
  });
}

export interface RollbackOptions {
  /** The generation to restore; default: the newest rollback candidate whose file is intact. */
  to?: number;
  restart: boolean;
  waitMs: number;
}

/** What a rollback did. `generation` is the new one holding the restored bytes (null: the target was already current). */
export interface RollbackResult {
  name: string;
  from: number | null;
  to: number;
  generation: number | null;
  restarted: boolean;
  healthy: boolean | null;
  pid: number | null;
  elapsedMs: number;
  /** Newer known-good generations passed over because their files are corrupt (default target only; absent when none). */
  skipped?: CorruptGeneration[];
}

/**
 * Restore a generation, then (with `restart`) reset a failed state, restart, wait until healthy and mark
 * it known-good. Throws UnhealthyError when the profile is still not healthy with the restored file, and
 * BadFileError, restoring nothing, when a restart was asked for and the generation has no usable port.
 */
export async function rollbackProfile(ctx: Context, name: string, opts: RollbackOptions): Promise<RollbackResult> {
  const config = await ctx.config();
  await assertProfileExists(ctx.paths, name);
  const h = await history(ctx.paths, name);
  let chosen: { to: number; skipped: CorruptGeneration[] };
  if (opts.to !== undefined) {
    await readGeneration(ctx.paths, name, opts.to);
    chosen = { to: opts.to, skipped: [] };
  } else {
    chosen = await defaultTarget(ctx, name, h);
  }
  const { to, skipped } = chosen;
  const result: RollbackResult = { name, from: h.current, to, generation: null, restarted: false, healthy: null, pid: null, elapsedMs: 0, ...(skipped.length > 0 ? { skipped } : {}) };
  // A restart needs a port to gate on: a generation without one is not restored.
  const entries = parseEnv(await readGeneration(ctx.paths, name, to)).entries;
  const target = opts.restart ? gateTarget(ctx.paths, config, name, entries, generationFile(ctx.paths, name, to)) : null;
  if (to !== h.current) result.generation = (await restoreGeneration(ctx, name, to, `rollback to ${to}`)).number;
  if (!target) return result;

  ctx.progress(`restarting ${unitName(name)} with generation ${to}, waiting for ${config.healthPath} ...`);
  try {
    const up = await bringUp(ctx, name, { restart: true, deadlineMs: opts.waitMs, target });
    Object.assign(result, { restarted: true, healthy: true, pid: up.state.mainPid, elapsedMs: up.elapsedMs });
  } catch (err) {
    if (!(err instanceof UnhealthyError)) throw err;
    const restored = result.generation === null ? `generation ${to} is current` : `generation ${to} is restored as generation ${result.generation}`;
    throw new UnhealthyError(`${err.message} (${restored})`, err.details, `run \`profiles history ${name}\`, then \`profiles rollback ${name} --to GEN\``);
  }
  await markKnownGood(ctx.paths, name, config.keepGenerations);
  return result;
}

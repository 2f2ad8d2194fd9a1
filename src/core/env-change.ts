/** `set` and `unset`: change some keys of a profile's `.env` as a new generation, optionally restart. */
import { UnhealthyError, UsageError } from "../errors.js";
import type { EnvEntries } from "../store/envfile.js";
import { changedKeys, markKnownGood } from "../store/generations.js";
import { assertProfileExists, commitEnv, portOf, readEnv } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { bringUp } from "./bring-up.js";
import type { Context } from "./context.js";
import { gateTarget } from "./health-target.js";
import { assertPortChange, withEnvLocks } from "./port-change.js";
import { parsePort } from "./ports.js";

/** Keys to give values and keys to remove; both already checked against the key and value rules. */
export interface EnvEdit {
  set: EnvEntries;
  unset: string[];
}

export interface EnvChangeOptions {
  /** The verb, for the generation's reason and the lock owner: `set` or `unset`. */
  verb: "set" | "unset";
  restart: boolean;
  waitMs: number;
}

/** What a change did; `generation` is null when every key already had the value asked for. */
export interface EnvChangeResult {
  name: string;
  changed: string[];
  generation: number | null;
  restarted: boolean;
  healthy: boolean | null;
  pid: number | null;
  elapsedMs: number;
}

/**
 * Apply `edit` to the profile's `.env` under its lock (and the "ports" lock when the port moves, with
 * `add`'s collision checks), kept as a new generation; nothing is written when nothing changes. With
 * `restart`, restart the unit and wait until healthy, then mark the generation known-good; an unhealthy
 * result is an UnhealthyError pointing at `profiles rollback`, a result without a usable port a
 * BadFileError with nothing written.
 */
export async function changeEnv(ctx: Context, name: string, edit: EnvEdit, opts: EnvChangeOptions): Promise<EnvChangeResult> {
  const config = await ctx.config();
  await assertProfileExists(ctx.paths, name);
  if (edit.unset.includes(config.portVar)) {
    throw new UsageError(`${config.portVar} carries the profile's port and cannot be unset`, `move it with \`profiles set ${name} ${config.portVar}=N\`, or remove the profile`);
  }
  const raw = edit.set.get(config.portVar);
  const port = raw === undefined ? null : parsePort(raw, config.portVar);
  const command = `profiles ${opts.verb} ${name}`;

  const committed = await withEnvLocks(ctx, name, command, port !== null, async () => {
    const before = await readEnv(ctx.paths, name);
    const unknown = edit.unset.filter((k) => !before.has(k));
    if (unknown.length > 0) {
      throw new UsageError(`profile "${name}" has no ${unknown.join(", ")}; nothing was changed`, `run \`profiles env ${name}\` to see its keys`);
    }
    const after = new Map(before);
    for (const [k, v] of edit.set) after.set(k, v);
    for (const k of edit.unset) after.delete(k);
    // A restart needs a port to gate on: without one, nothing is written either.
    const target = opts.restart ? gateTarget(ctx.paths, config, name, after) : null;
    const changed = changedKeys(before, after);
    if (changed.length === 0) return { changed, target, generation: null };
    if (port !== null) await assertPortChange(ctx, config, name, portOf(before, config.portVar), port);
    // The reason lists keys in the order they were given, so that it reads like the command.
    const given = [...edit.set.keys(), ...edit.unset].filter((k, i, all) => changed.includes(k) && all.indexOf(k) === i);
    const gen = await commitEnv(ctx.paths, name, after, `${opts.verb} ${given.join(", ")}`, { keep: config.keepGenerations });
    return { changed: given, target, generation: gen.number };
  });

  const result: EnvChangeResult = { name, changed: committed.changed, generation: committed.generation, restarted: false, healthy: null, pid: null, elapsedMs: 0 };
  if (!committed.target) return result;
  ctx.progress(`restarting ${unitName(name)}, waiting for ${config.healthPath} ...`);
  try {
    const up = await bringUp(ctx, name, { restart: true, deadlineMs: opts.waitMs, target: committed.target });
    Object.assign(result, { restarted: true, healthy: true, pid: up.state.mainPid, elapsedMs: up.elapsedMs });
  } catch (err) {
    if (!(err instanceof UnhealthyError)) throw err;
    const saved = committed.generation === null ? "" : ` (the change is kept as generation ${committed.generation})`;
    throw new UnhealthyError(`${err.message}${saved}`, err.details, `run \`profiles rollback ${name}\` to restore its last known-good generation`);
  }
  await markKnownGood(ctx.paths, name, config.keepGenerations);
  return result;
}

/** `set` and `unset`: change some keys of a profile's `.env` as a new generation, optionally restart. */
import { UsageError } from "../errors.js";
import type { EnvEntries } from "../store/envfile.js";
import { changedKeys } from "../store/generations.js";
import { assertProfileExists } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";
import { gateTarget } from "./health-target.js";
import { parsePort } from "./port-allocation.js";
import { assertUniqueValues } from "./unique-values.js";
import { NOT_RESTARTED, withProfile, type ProfileTxOptions, type RestartOutcome } from "./transaction.js";
import { assertEnabled } from "./enabled.js";

/** Keys to give values and keys to remove; both already checked against the key and value rules. */
export interface EnvEdit {
  set: EnvEntries;
  unset: string[];
}

export interface EnvChangeOptions extends Pick<ProfileTxOptions, "stopSignal"> {
  /** The verb, for the generation's reason and the lock owner: `set` or `unset`. */
  verb: "set" | "unset";
  restart: boolean;
  waitMs: number;
}

/** What a change did; `generation` is null when every key already had the value asked for. */
export interface EnvChangeResult extends RestartOutcome {
  name: string;
  changed: string[];
  generation: number | null;
}

/**
 * Apply `edit` to the profile's `.env` as a new generation, in one transaction (with the "ports" lock and
 * `add`'s collision checks when the port moves); nothing is written when nothing changes. With `restart`,
 * restart the unit in the same transaction, wait until healthy and mark known-good the generation it
 * started with; an unhealthy result is an UnhealthyError pointing at `profiles rollback`, a result without
 * a usable port a BadFileError with nothing written.
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

  // A unique key's value is checked against the others under the "ports" lock, as a port is: two sets at once cannot both pass.
  const unique = [...edit.set.keys()].some((k) => config.uniqueKeys.includes(k));
  return withProfile(ctx, name, { command, ports: port !== null || unique, stopSignal: opts.stopSignal }, async (tx) => {
    const before = tx.entries();
    const unknown = edit.unset.filter((k) => !before.has(k));
    if (unknown.length > 0) {
      throw new UsageError(`profile "${name}" has no ${unknown.join(", ")}; nothing was changed`, `run \`profiles env ${name}\` to see its keys`);
    }
    const after = new Map(before);
    for (const [k, v] of edit.set) after.set(k, v);
    for (const k of edit.unset) after.delete(k);
    // A restart needs a port to gate on, and a profile not kept down: else nothing is written either.
    if (opts.restart) gateTarget(ctx.paths, config, name, after);
    if (opts.restart) await assertEnabled(ctx, [name]);
    const result: EnvChangeResult = { name, changed: [], generation: null, ...NOT_RESTARTED };
    const changed = changedKeys(before, after);
    if (changed.length > 0) {
      if (port !== null) await tx.assertPort(port);
      if (unique) await assertUniqueValues(ctx.paths, config, name, after);
      // The reason lists keys in the order they were given, so that it reads like the command.
      result.changed = [...edit.set.keys(), ...edit.unset].filter((k, i, all) => changed.includes(k) && all.indexOf(k) === i);
      result.generation = (await tx.commitEntries(after, `${opts.verb} ${result.changed.join(", ")}`)).number;
    }
    if (!opts.restart) return result;
    ctx.progress(`restarting ${unitName(name)}, waiting for ${config.healthPath} ...`);
    const kept = result.generation === null ? "" : `the change is kept as generation ${result.generation}`;
    return { ...result, ...(await tx.restartAfterChange(opts.waitMs, kept, `run \`profiles rollback ${name}\` to restore its last known-good generation`)) };
  });
}

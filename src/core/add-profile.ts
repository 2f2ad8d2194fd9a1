/** Making a new profile: `add`, and each profile `apply` adds. */
import { existsSync } from "node:fs";
import { EnvFileExistsError, InterruptedError, ProfileExistsError } from "../errors.js";
import { envFile, envOutside, profileDir } from "../paths.js";
import { ensureDir } from "../store/atomic.js";
import type { EnvEntries } from "../store/envfile.js";
import type { Limits } from "../store/limits.js";
import { withLimits } from "../store/limits-change.js";
import { writeProfileSettings, type ProfileSettings } from "../store/profile-settings.js";
import { profileExists, recordedPorts } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import type { Context } from "./context.js";
import { allocatePort, assertPortFree } from "./port-allocation.js";
import { assertUniqueValues } from "./unique-values.js";
import { withProfile, type KnownGoodMark, type ProfileTxOptions } from "./transaction.js";

/** What a new profile gets besides its port. */
/** `stopSignal`: the verb's deferred Ctrl-C (ProfileTxOptions); `verify` gives none. */
export interface NewProfile extends Pick<ProfileTxOptions, "stopSignal"> {
  /** null: the lowest free port of the range. */
  port: number | null;
  /** Keys after the port variable, in this order. */
  extra: EnvEntries;
  /** Enabled (started at boot, watched by the sweep) even when not started now; not enabled is `disable`d. */
  enable: boolean;
  start: boolean;
  waitMs: number;
  /** The verb, for the lock owner and the generation's reason. */
  command: string;
  limits?: Limits;
  probe?: ProfileSettings;
}

/** What `add` did: the profile, its port, and whether it was started and passed its gate. */
export interface AddResult {
  name: string;
  port: number;
  unit: string;
  started: boolean;
  healthy: boolean;
  elapsedMs: number;
  pid: number;
  knownGood: KnownGoodMark | null;
}

/**
 * Create profile `name` as generation 1 (its limits in it), then enable, start and gate it unless
 * `start` is false. Choosing a port and recording it is one step under the "ports" lock, or two parallel
 * adds get the same port. ProfileExistsError (exit 4) when it exists; UnhealthyError when it fails its gate.
 */
export async function addProfile(ctx: Context, name: string, p: NewProfile): Promise<AddResult> {
  const config = await ctx.config();
  if (await profileExists(ctx.paths, name)) throw new ProfileExistsError(name);
  // Under an env-path a gateway may already have its .env there (not imported yet): never write over it.
  if (envOutside(ctx.paths) && existsSync(envFile(ctx.paths, name))) throw new EnvFileExistsError(name, envFile(ctx.paths, name));
  // Reached before anything is written: a profile is enabled even when not started (`disable` keeps one down).
  const sd = await ctx.systemd();
  return withProfile(ctx, name, { command: p.command, ports: true, create: true, stopSignal: p.stopSignal }, async (tx) => {
    const recorded = await recordedPorts(ctx.paths, config.portVar);
    const inspector = await ctx.ports();
    let port: number;
    if (p.port !== null) {
      await assertPortFree(p.port, name, recorded, inspector);
      port = p.port;
    } else {
      port = await allocatePort(config, recorded, inspector);
    }
    const entries = new Map([[config.portVar, String(port)], ...p.extra]);
    await assertUniqueValues(ctx.paths, config, name, entries);
    const limits = p.limits ?? {};
    let dropInChanged = false;
    // Enabled before its .env makes it a profile: an add killed between the two left a profile that every
    // verb took for one disabled on purpose (`sweep` and `roll` passed it by). Killed now, it leaves no
    // profile, and the next `add` of the name enables it again.
    if (p.enable) await sd.enable([unitName(name)]);
    try {
      // limits.json goes in first, for generation 1 to record it; a dir without a .env is no profile yet.
      if (Object.keys(limits).length > 0) await ensureDir(profileDir(ctx.paths, name), 0o700);
      if (Object.keys(limits).length > 0) dropInChanged = (await withLimits(ctx.paths, name, limits, () => tx.commitEntries(entries, "add"))).dropInChanged;
      else await tx.commitEntries(entries, "add");
    } catch (err) {
      if (p.enable) await sd.disable([unitName(name)]).catch(() => {});
      throw err;
    }
    if (p.probe) await writeProfileSettings(ctx.paths, name, p.probe);

    if (dropInChanged) await sd.reload();

    const data: AddResult = { name, port, unit: unitName(name), started: false, healthy: false, elapsedMs: 0, pid: 0, knownGood: null };
    if (!p.start) return data;
    ctx.progress(`starting ${unitName(name)} on port ${port}, waiting for ${config.healthPath} ...`);
    const { up, knownGood } = await tx.bringUp("start", p.waitMs).catch((err: unknown) => {
      // Added all the same: say so beside why it was not started or not waited for.
      throw err instanceof InterruptedError ? err.noting(`added on port ${port} as generation 1`) : err;
    });
    return Object.assign(data, { started: true, healthy: true, elapsedMs: up.elapsedMs, pid: up.state.mainPid, knownGood });
  });
}

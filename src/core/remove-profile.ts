/** Removing a profile: `remove`, and each profile `apply --prune` removes. */
import path from "node:path";
import { ManagerUnreachableError, ProfileNotFoundError, SystemdError } from "../errors.js";
import { shellWord } from "../render/shell.js";
import { ensureDir } from "../store/atomic.js";
import { acquireLock, PROFILE_LOCK_WAIT_MS } from "../store/lock.js";
import { profileExists } from "../store/profiles.js";
import { unitName, type SystemdManager } from "../systemd/types.js";
import type { Context } from "./context.js";
import { disableLinks } from "./enabled.js";
import { retireLogs } from "./logs/rotate.js";
import { withProfile } from "./transaction.js";

/**
 * Stop and disable profile `name`'s unit, then delete the profile, under its lock (a roll or a set working
 * on it finishes its step first). Where its `.env` is kept (null when `purge`), and its log files (`init
 * --log-dir`), kept beside it with its time stamp ([] when `purge`). `stopSignal` (apply's) ends a wait
 * for the lock; once begun, a removal is finished.
 */
export async function removeProfile(
  ctx: Context, name: string, purge: boolean, command: string, stopSignal?: AbortSignal,
): Promise<{ keptEnv: string | null; keptLogs: string[] }> {
  return withProfile(ctx, name, { command, stopSignal }, async (tx) => {
    await stopAndDisable(await ctx.systemd(), name, "the profile was kept");
    const keptEnv = await tx.remove(purge);
    // Stopped: nothing writes to them any more.
    const stamp = keptEnv ? path.basename(keptEnv).slice(name.length + 1, -".env".length) : "";
    if (!purge) await ensureDir(ctx.paths.removedDir, 0o700);
    return { keptEnv, keptLogs: await retireLogs(await ctx.config(), ctx.paths.removedDir, name, stamp, purge) };
  });
}

/**
 * Stop the unit of `name`, disable it (its runtime links too: DisableUnitFiles leaves those
 * unless asked), reset its failed state; an error naming what was `kept` when the stop job fails or a
 * link this user cannot remove still enables it.
 */
async function stopAndDisable(sd: SystemdManager, name: string, kept: string): Promise<void> {
  const unit = unitName(name);
  const job = await sd.stop(unit, { timeoutMs: 60_000 });
  if (job !== "done") throw new SystemdError(`${name}: the stop job ended "${job}"; ${kept}`, undefined, `run \`profiles status ${name}\``);
  const left = await disableLinks(sd, unit);
  if (STARTED_BY_LINK.has(left)) {
    // Not ours to remove: a link outside the user's directories, as `systemctl --global enable` makes.
    throw new SystemdError(`${name}: its unit ${unit} is stopped, but ${left} by a link outside your unit directories; ${kept}`, undefined, `ask root to run \`systemctl --global disable ${shellWord(unit)}\``);
  }
  await sd.resetFailed(unit);
}

/** Active states of a unit whose process runs or is on its way up or down. */
const AT_WORK = new Set(["active", "activating", "deactivating", "reloading"]);

/** Unit file states in which the manager starts a unit with its target (its symlink is in a `.wants/` directory). */
const STARTED_BY_LINK = new Set(["enabled", "enabled-runtime", "linked", "linked-runtime"]);

/**
 * When a link of `fileState` (one of STARTED_BY_LINK) has the manager start its unit: a runtime link goes
 * with the runtime directory (a reboot, or without lingering the last logout), so only a start of its
 * target before that (the manager restarting) starts the unit; a persistent one has it started whenever
 * the manager starts (a login, or the boot where the user lingers).
 */
function startedWhen(fileState: string): string {
  return fileState.endsWith("-runtime") ? "if its target starts again before a reboot (or, without lingering, the last logout): a manager restart" : "at its own next start (a login, or the boot with lingering)";
}

/**
 * Why the template's unit of `name`, which is no profile, needs cleaning up, or null when it does not: it
 * is enabled (what an `add` killed between its enable and its `.env` leaves, or `systemctl --user enable`
 * by hand; the manager starts it with its target, with no `.env`, and it fails), or it runs. With the
 * unit file state it read, for a fix that depends on it (a runtime link).
 */
export async function strayUnit(sd: SystemdManager, name: string): Promise<{ why: string; fileState: string } | null> {
  const unit = unitName(name);
  const fileState = await sd.unitFileState(unit);
  if (STARTED_BY_LINK.has(fileState)) return { why: `is ${fileState}: the manager starts it ${startedWhen(fileState)}, with no .env, and it fails`, fileState };
  const s = await sd.state(unit);
  return AT_WORK.has(s.activeState) ? { why: `is ${s.activeState}/${s.subState}, with no .env of ours`, fileState } : null;
}

/**
 * `remove NAME`: the profile, or where NAME is no profile, a stray unit of that name (strayUnit) stopped,
 * disabled and reset, under the lock an `add` of the name holds; ProfileNotFoundError when neither, or
 * when the manager cannot be asked (nothing starts such a unit then either). `strayUnit` says which it was.
 */
export async function removeProfileOrUnit(ctx: Context, name: string, purge: boolean, command: string): Promise<{ keptEnv: string | null; keptLogs: string[]; strayUnit: boolean }> {
  if (!(await profileExists(ctx.paths, name))) {
    // Neither a profile nor a stray unit: exit 3 with nothing written (no lock taken, no wait).
    const sd = await ctx.systemd().catch((err: unknown) => {
      throw err instanceof ManagerUnreachableError ? new ProfileNotFoundError(name) : err;
    });
    if ((await strayUnit(sd, name)) === null) throw new ProfileNotFoundError(name);
    const lock = await acquireLock(ctx.paths.locksDir, `profile-${name}`, command, PROFILE_LOCK_WAIT_MS);
    try {
      // An `add` of the name that held the lock has made it a profile: removed as one, below.
      if (!(await profileExists(ctx.paths, name))) {
        if ((await strayUnit(sd, name)) === null) throw new ProfileNotFoundError(name);
        await stopAndDisable(sd, name, "it is still enabled");
        return { keptEnv: null, keptLogs: [], strayUnit: true };
      }
    } finally {
      await lock.release();
    }
  }
  return { ...(await removeProfile(ctx, name, purge, command)), strayUnit: false };
}

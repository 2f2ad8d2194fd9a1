/** When the tool reloads the user manager (daemon-reload) after touching unit files, and when it does not. */
import type { SystemdManager } from "../systemd/types.js";

/**
 * Reload the manager when `changed` (we wrote other bytes to a unit file or drop-in, or removed one), or
 * when the manager reports NeedDaemonReload for one of `units` (a file edited since its last reload);
 * otherwise leave it be: systemd 252 forgets a unit's start-limit count on a reload, so a needless one
 * lets a crash-looping profile start its restarts over. `units` is asked only when nothing changed.
 * Whether it reloaded.
 */
export async function reloadIfNeeded(sd: SystemdManager, changed: boolean, units: () => Promise<readonly string[]>): Promise<boolean> {
  if (!changed && !(await anyNeedsReload(sd, await units()))) return false;
  await sd.reload();
  return true;
}

async function anyNeedsReload(sd: SystemdManager, units: readonly string[]): Promise<boolean> {
  const answers = await Promise.all(units.map((u) => sd.properties(u, ["NeedDaemonReload"])));
  return answers.some((p) => p.NeedDaemonReload === true);
}

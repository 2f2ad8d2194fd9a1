/**
 * Limits that cannot bite: a MemoryMax, CPUQuota or TasksMax is enforced by the cgroup controller of
 * its kind (memory, cpu, pids), and a user manager only has those that root delegated to it
 * (`Delegate=` of user@.service). Without one, the manager accepts the limit, reports it, and the
 * kernel never applies it.
 */
import { cgroupControllers } from "../processes/cgroup.js";
import type { Limits } from "../store/limits.js";
import type { SystemdManager } from "../systemd/types.js";

/** A limit that is set but not enforced, and why. */
export interface NotEnforced {
  limit: "MemoryMax" | "CPUQuota" | "TasksMax";
  controller: "memory" | "cpu" | "pids";
  why: string;
}

const CONTROLLERS = [
  { limit: "MemoryMax", controller: "memory", current: "MemoryCurrent" },
  { limit: "CPUQuota", controller: "cpu", current: null },
  { limit: "TasksMax", controller: "pids", current: "TasksCurrent" },
] as const;

/** What root runs to delegate the controllers to every user manager (then log in again, or restart user@UID). */
export const DELEGATE_FIX =
  "as root: `mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload`, then restart the user manager (log out and in, or `systemctl restart user@$UID`)";

/**
 * The limits of `set` (what `profiles limits` set) that the manager cannot enforce on `unit`: judged by
 * the controllers of the manager's own cgroup; where those cannot be read, by the unit's accounting
 * (MemoryCurrent, TasksCurrent unset while it runs with the limit).
 */
export async function limitsNotEnforced(sd: SystemdManager, unit: string, set: Limits): Promise<NotEnforced[]> {
  const wanted = CONTROLLERS.filter((c) => set[c.limit] !== undefined && set[c.limit] !== "infinity");
  if (wanted.length === 0) return [];
  const root = await sd.controlGroup().catch(() => "");
  const delegated = await cgroupControllers(root);
  if (delegated) {
    const has = [...delegated].join(" ") || "none";
    return wanted
      .filter((c) => !delegated.has(c.controller))
      .map((c) => ({ limit: c.limit, controller: c.controller, why: `the user manager has no ${c.controller} controller (its cgroup ${root} has: ${has})` }));
  }
  const p = await sd.properties(unit, ["ActiveState", "MemoryCurrent", "TasksCurrent"]);
  if (p.ActiveState !== "active") return [];
  return wanted
    .filter((c) => c.current !== null && p[c.current] === "infinity")
    .map((c) => ({ limit: c.limit, controller: c.controller, why: `${c.current} is unset while the unit runs: the manager has no ${c.controller} controller` }));
}

/** Lines for people, one per limit not enforced. */
export function notEnforcedLines(list: NotEnforced[]): string[] {
  return list.map((n) => `NOT ENFORCED: ${n.limit}: ${n.why}`);
}

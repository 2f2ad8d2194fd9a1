/**
 * Whether a port is held by a unit's own processes, by nobody, or by some other process: the one rule that
 * the health gates, the sweep and `doctor` apply.
 */
import { describeListener } from "../ports/describe.js";
import type { PortInspector } from "../ports/types.js";
import type { ProcessInspector } from "../processes/inspector.js";
import type { SystemdManager } from "../systemd/types.js";
import type { Context } from "./context.js";

/** Who listens on a profile's port. */
export type PortHolder =
  | { status: "own"; pid: number }
  | { status: "free" }
  | { status: "foreign"; pid: number | null; holder: string };

/** The unit a port is judged for. */
export interface PortClaim {
  unit: string;
  /** Its main PID; null or 0 when none runs. */
  mainPid: number | null;
  /** Its ControlGroup as the manager reports it ("" when it runs nothing); asked only for a listener that is not the main PID. */
  controlGroup(): Promise<string>;
}

/**
 * A listener is the unit's own when it is the unit's main process or a process in the unit's cgroup (a
 * gateway started by a wrapper listens from a child). Every listener on the port must be: one that is
 * not, including one this user cannot see (another user's; the unit's processes are always this user's),
 * makes the port foreign, since a probe of the port may be answered by it.
 */
export async function portHolder(ports: PortInspector, procs: ProcessInspector, port: number, claim: PortClaim): Promise<PortHolder> {
  const main = claim.mainPid || null;
  const all = await ports.holders(port, main === null ? [] : [main]);
  if (all.length === 0) return { status: "free" };
  let cgroup: string | undefined;
  for (const l of all) {
    if (l.pid !== undefined && (l.pid === main || (await procs.inCgroup(l.pid, (cgroup ??= await claim.controlGroup()))))) continue;
    return { status: "foreign", pid: l.pid ?? null, holder: describeListener(l) };
  }
  return { status: "own", pid: (all.find((l) => l.pid === main) ?? all[0]!).pid! };
}

/** `port 8642 is held by process 1234 (python3), not by agent-gateway@liam.service`: how every report says it. */
export function heldText(port: number, holder: string, unit: string): string {
  return `port ${port} is held by ${holder}, not by ${unit}`;
}

/** Who holds a port, judged for one unit: what a gate asks, through the Context so that tests can fake it. */
export interface PortOwners {
  holder(port: number, claim: PortClaim): Promise<PortHolder>;
}

/** The real lookup: listeners from /proc's socket tables, processes' cgroups from /proc. */
export function procPortOwners(ports: PortInspector, procs: ProcessInspector): PortOwners {
  return { holder: (port, claim) => portHolder(ports, procs, port, claim) };
}

/** The unit's ControlGroup property; "" when it runs nothing. */
export async function controlGroupOf(sd: SystemdManager, unit: string): Promise<string> {
  const { ControlGroup } = await sd.properties(unit, ["ControlGroup"]);
  return typeof ControlGroup === "string" ? ControlGroup : "";
}

/** A claim for `unit` whose ControlGroup is asked of the manager at most once, and only when needed. */
export function unitClaim(sd: SystemdManager, unit: string, mainPid: number | null): PortClaim {
  let cgroup: Promise<string> | undefined;
  return { unit, mainPid, controlGroup: () => (cgroup ??= controlGroupOf(sd, unit)) };
}

/** Who holds `port` now, judged for `unit` whose main PID is `mainPid`. */
export async function unitPortHolder(ctx: Context, unit: string, port: number, mainPid: number | null): Promise<PortHolder> {
  return (await ctx.owners()).holder(port, unitClaim(await ctx.systemd(), unit, mainPid));
}

/** `; port N is held by ...` when another process holds the port of a unit that failed (often why it did), else "". */
export async function foreignNote(ctx: Context, unit: string, port: number, mainPid: number | null): Promise<string> {
  const held = await unitPortHolder(ctx, unit, port, mainPid);
  return held.status === "foreign" ? `; ${heldText(port, held.holder, unit)}` : "";
}

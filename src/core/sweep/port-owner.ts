/** Whether a profile's port is held by the profile's own unit, by nobody, or by some other process. */
import { describeListener } from "../../ports/describe.js";
import type { PortInspector } from "../../ports/types.js";
import type { ProcessInspector } from "../../proc/process.js";

/** Who listens on a profile's port. */
export type PortHolder =
  | { status: "own"; pid: number }
  | { status: "free" }
  | { status: "foreign"; pid: number | null; holder: string };

/**
 * The listener's pid is the unit's main process, or a process in the unit's cgroup (a gateway started by
 * a wrapper listens from a child): the unit's own. Anything else, including a listener this user cannot
 * see (another user's; the unit's processes are always this user's), is foreign.
 */
export async function portHolder(ports: PortInspector, procs: ProcessInspector, port: number, unit: string, mainPid: number | null): Promise<PortHolder> {
  const l = await ports.listener(port);
  if (!l) return { status: "free" };
  if (l.pid !== undefined && ((mainPid !== null && l.pid === mainPid) || (await procs.inUnit(l.pid, unit)))) return { status: "own", pid: l.pid };
  return { status: "foreign", pid: l.pid ?? null, holder: describeListener(l) };
}

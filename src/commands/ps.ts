import { cgroupPids, processInfo, type UnitProcess } from "../processes/cgroup.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}M`;
}

/** The processes of a profile's unit, its main PID marked. */
export interface PsResult {
  name: string;
  unit: string;
  controlGroup: string | null;
  mainPid: number | null;
  processes: (UnitProcess & { main: boolean })[];
}

/** `ps`'s text for people: a header, then one row per process. */
export function renderPs(r: PsResult): string {
  if (r.processes.length === 0) return `${r.name}: no processes (${r.unit} is not running)`;
  const rows = r.processes.map((p) => `${String(p.pid).padStart(7)} ${String(p.ppid).padStart(7)} ${String(p.sid).padStart(7)} ${mib(p.rssBytes).padStart(8)}  ${p.main ? "*" : " "} ${p.command}`);
  return [`${r.name}: ${r.processes.length} process(es) in ${r.controlGroup ?? ""} (* main)`, `${"PID".padStart(7)} ${"PPID".padStart(7)} ${"SID".padStart(7)} ${"RSS".padStart(8)}    COMMAND`, ...rows].join("\n");
}

export default defineCommand<{ name: string }>({
  command: "ps <name>",
  describe: "The processes in a profile's unit (its cgroup): the gateway and everything it started, detached ones too",
  options: [name()],
  needs: { config: true, profiles: "name", manager: true },
  async run(args, ctx) {
    const name = args.name;
    const unit = unitName(name);
    const sd = await ctx.systemd();
    // The manager names the cgroup; it is empty while the unit is not running.
    const { ControlGroup, MainPID } = await sd.properties(unit, ["ControlGroup", "MainPID"]);
    const controlGroup = typeof ControlGroup === "string" ? ControlGroup : "";
    const mainPid = Number(MainPID) || null;
    const infos = await Promise.all((await cgroupPids(controlGroup)).map((pid) => processInfo(pid)));
    const processes = infos.filter((p): p is UnitProcess => p !== null).map((p) => ({ ...p, main: p.pid === mainPid }));
    const data: PsResult = { name, unit, controlGroup: controlGroup || null, mainPid, processes };
    return { data, text: renderPs(data) };
  },
});

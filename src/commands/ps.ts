import { cgroupPids, processInfo, type UnitProcess } from "../processes/cgroup.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}M`;
}

export default defineCommand<{ name: string }>({
  command: "ps <name>",
  describe: "The processes in a profile's unit (its cgroup): the gateway and everything it started, detached ones too",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .example("$0 ps liam", "the gateway's processes, its main PID marked")
      .example("$0 ps liam --json", "the same as JSON"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    await ctx.config();
    await assertProfileExists(ctx.paths, name);
    const unit = unitName(name);
    const sd = await ctx.systemd();
    // The manager names the cgroup; it is empty while the unit is not running.
    const { ControlGroup, MainPID } = await sd.properties(unit, ["ControlGroup", "MainPID"]);
    const controlGroup = typeof ControlGroup === "string" ? ControlGroup : "";
    const mainPid = Number(MainPID) || null;
    const infos = await Promise.all((await cgroupPids(controlGroup)).map((pid) => processInfo(pid)));
    const processes = infos.filter((p): p is UnitProcess => p !== null).map((p) => ({ ...p, main: p.pid === mainPid }));
    const data = { name, unit, controlGroup: controlGroup || null, mainPid, processes };
    if (processes.length === 0) return { data, text: `${name}: no processes (${unit} is not running)` };
    const rows = processes.map((p) => `${String(p.pid).padStart(7)} ${String(p.ppid).padStart(7)} ${String(p.sid).padStart(7)} ${mib(p.rssBytes).padStart(8)}  ${p.main ? "*" : " "} ${p.command}`);
    const text = [`${name}: ${processes.length} process(es) in ${controlGroup} (* main)`, `${"PID".padStart(7)} ${"PPID".padStart(7)} ${"SID".padStart(7)} ${"RSS".padStart(8)}    COMMAND`, ...rows].join("\n");
    return { data, text };
  },
});

/**
 * Memory and CPU of a running unit, for `top`: the manager's own accounting (MemoryCurrent,
 * CPUUsageNSec) where it keeps it, else summed from /proc over the processes of the unit's cgroup (a
 * user manager without delegated controllers reports both as "infinity").
 */
import path from "node:path";
import { cgroupPids, processInfo } from "../../processes/cgroup.js";
import { readProc } from "../../processes/read.js";
import type { SystemdManager } from "../../systemd/types.js";

/** One reading of a unit's memory and its CPU time so far. */
export interface UsageSample {
  atMs: number;
  memoryBytes: number | null;
  memorySource: "cgroup" | "rss" | null;
  cpuNs: number | null;
  cpuSource: "cgroup" | "proc" | null;
}

// USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture node runs on.
const NS_PER_TICK = 1e9 / 100;

/** utime + stime + cutime + cstime of `pid` (its reaped children count too, so a sum over time does not drop when one exits). */
function cpuTicks(pid: number, procRoot: string): number {
  const stat = readProc(path.join(procRoot, String(pid), "stat"));
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14-17 of stat; `rest` starts at field 3.
  const ticks = rest.slice(11, 15).map(Number);
  return ticks.length === 4 && ticks.every(Number.isFinite) ? ticks.reduce((a, b) => a + b, 0) : 0;
}

const accounted = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Reads `unit`'s usage now: two property Gets, plus its cgroup's processes when the manager does not account one. */
export async function sampleUsage(sd: SystemdManager, unit: string, procRoot = "/proc"): Promise<UsageSample> {
  const { MemoryCurrent, CPUUsageNSec } = await sd.properties(unit, ["MemoryCurrent", "CPUUsageNSec"]);
  const sample: UsageSample = { atMs: Date.now(), memoryBytes: null, memorySource: null, cpuNs: null, cpuSource: null };
  if (accounted(MemoryCurrent)) Object.assign(sample, { memoryBytes: MemoryCurrent, memorySource: "cgroup" });
  if (accounted(CPUUsageNSec)) Object.assign(sample, { cpuNs: CPUUsageNSec, cpuSource: "cgroup" });
  if (sample.memorySource !== null && sample.cpuSource !== null) return sample;
  const { ControlGroup } = await sd.properties(unit, ["ControlGroup"]);
  const pids = await cgroupPids(typeof ControlGroup === "string" ? ControlGroup : "");
  if (pids.length === 0) return sample;
  if (sample.memorySource === null) {
    const infos = await Promise.all(pids.map((pid) => processInfo(pid, procRoot)));
    sample.memoryBytes = infos.reduce((sum, p) => sum + (p?.rssBytes ?? 0), 0);
    sample.memorySource = "rss";
  }
  if (sample.cpuSource === null) {
    sample.cpuNs = pids.reduce((sum, pid) => sum + cpuTicks(pid, procRoot) * NS_PER_TICK, 0);
    sample.cpuSource = "proc";
  }
  return sample;
}

/**
 * CPU % of one core between two samples; without an earlier one (or after a restart, when the count
 * went back), the average since `startedAtMs`. Null when unknown.
 */
export function cpuPercent(now: UsageSample, before: UsageSample | null, startedAtMs: number | null): number | null {
  if (now.cpuNs === null) return null;
  if (before?.cpuNs != null && before.cpuSource === now.cpuSource && now.cpuNs >= before.cpuNs && now.atMs > before.atMs) {
    return ((now.cpuNs - before.cpuNs) / ((now.atMs - before.atMs) * 1e6)) * 100;
  }
  if (startedAtMs === null || now.atMs <= startedAtMs) return null;
  return (now.cpuNs / ((now.atMs - startedAtMs) * 1e6)) * 100;
}

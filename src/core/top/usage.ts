/**
 * Memory and CPU of a running unit, for `top`: the manager's own accounting (MemoryCurrent,
 * CPUUsageNSec) where it keeps it, else summed from /proc over the processes of the unit's cgroup (a
 * user manager without delegated controllers reports both as "infinity").
 */
import path from "node:path";
import { cgroupPids } from "../../processes/cgroup.js";
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
const PAGE_BYTES = 4096;

/** utime + stime + cutime + cstime of `pid` (its reaped children count too, so a sum over time does not drop when one exits). */
function cpuTicks(pid: number, procRoot: string): number {
  const stat = readProc(path.join(procRoot, String(pid), "stat"));
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14-17 of stat; `rest` starts at field 3.
  const ticks = rest.slice(11, 15).map(Number);
  return ticks.length === 4 && ticks.every(Number.isFinite) ? ticks.reduce((a, b) => a + b, 0) : 0;
}

/** Resident memory of `pid`, from statm; 0 once it has exited. */
function rssBytes(pid: number, procRoot: string): number {
  const pages = Number(readProc(path.join(procRoot, String(pid), "statm")).split(" ")[1]);
  return Number.isFinite(pages) ? pages * PAGE_BYTES : 0;
}

const accounted = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * Samples one running unit (one process of it: a new main PID gets a new UnitUsage). The first sample
 * asks the manager what it accounts; later ones ask it only for that, and read /proc for the rest,
 * without a round trip to the manager for what it does not have.
 */
export class UnitUsage {
  private accounts: { memory: boolean; cpu: boolean } | null = null;
  private controlGroup = "";

  constructor(
    private readonly sd: SystemdManager,
    private readonly unit: string,
    private readonly procRoot = "/proc",
  ) {}

  async sample(): Promise<UsageSample> {
    const first = this.accounts === null;
    const names = first ? ["MemoryCurrent", "CPUUsageNSec", "ControlGroup"] : [...(this.accounts!.memory ? ["MemoryCurrent"] : []), ...(this.accounts!.cpu ? ["CPUUsageNSec"] : [])];
    const props = names.length > 0 ? await this.sd.properties(this.unit, names) : {};
    if (first) {
      this.accounts = { memory: accounted(props.MemoryCurrent), cpu: accounted(props.CPUUsageNSec) };
      this.controlGroup = typeof props.ControlGroup === "string" ? props.ControlGroup : "";
    }
    const sample: UsageSample = { atMs: Date.now(), memoryBytes: null, memorySource: null, cpuNs: null, cpuSource: null };
    if (accounted(props.MemoryCurrent)) Object.assign(sample, { memoryBytes: props.MemoryCurrent, memorySource: "cgroup" });
    if (accounted(props.CPUUsageNSec)) Object.assign(sample, { cpuNs: props.CPUUsageNSec, cpuSource: "cgroup" });
    if (sample.memorySource !== null && sample.cpuSource !== null) return sample;
    const pids = await cgroupPids(this.controlGroup);
    if (pids.length === 0) return sample;
    if (sample.memorySource === null) Object.assign(sample, { memoryBytes: pids.reduce((sum, pid) => sum + rssBytes(pid, this.procRoot), 0), memorySource: "rss" });
    if (sample.cpuSource === null) Object.assign(sample, { cpuNs: pids.reduce((sum, pid) => sum + cpuTicks(pid, this.procRoot) * NS_PER_TICK, 0), cpuSource: "proc" });
    return sample;
  }
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

/** A percentage to two decimals, as `top` keeps it. */
export function roundPercent(p: number | null): number | null {
  return p === null ? null : Math.round(p * 100) / 100;
}

/** The processes in a unit's cgroup, read from the cgroup filesystem and /proc. */
import { readdirSync, readFileSync, type Dirent } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";

/** One process of a unit, as `profiles ps` shows it. */
export interface UnitProcess {
  pid: number;
  ppid: number;
  /** Session id: a child that detached (setsid) has its own. */
  sid: number;
  /** Resident memory in bytes. */
  rssBytes: number;
  command: string;
}

// Where the manager's cgroup tree may be mounted: pure v2, hybrid (v2 under unified/, systemd's named v1).
const HIERARCHIES = ["", "unified", "systemd"];

/**
 * The PIDs in a cgroup and its sub-cgroups; null when it has no cgroup.procs here. Synchronous, as
 * readProc: the cgroup filesystem never waits on a disk, and `top` reads it for every unit each interval,
 * where a promise per file costs more than the read.
 */
function procsUnder(dir: string): number[] | null {
  let text: string;
  try {
    text = readFileSync(path.join(dir, "cgroup.procs"), "utf8");
  } catch {
    return null;
  }
  const pids = text.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
  // A unit may have sub-cgroups (Delegate=): their processes are the unit's too.
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // Gone meanwhile: its processes were read above.
  }
  for (const e of entries) {
    if (e.isDirectory()) pids.push(...(procsUnder(path.join(dir, e.name)) ?? []));
  }
  return pids;
}

/** The controllers a cgroup (v2) has available (its `cgroup.controllers`), or null when it cannot be read. */
export async function cgroupControllers(controlGroup: string, root = "/sys/fs/cgroup"): Promise<Set<string> | null> {
  if (!controlGroup) return null;
  for (const h of ["", "unified"]) {
    const text = await readFile(path.join(root, h, controlGroup, "cgroup.controllers"), "utf8").catch(() => null);
    if (text !== null) return new Set(text.split(/\s+/).filter(Boolean));
  }
  return null;
}

/** PIDs in the cgroup `controlGroup` (the unit's ControlGroup property), searched under `root`; [] when it has none. */
export async function cgroupPids(controlGroup: string, root = "/sys/fs/cgroup"): Promise<number[]> {
  if (!controlGroup) return [];
  for (const h of HIERARCHIES) {
    const pids = procsUnder(path.join(root, h, controlGroup));
    if (pids !== null) return [...new Set(pids)].sort((a, b) => a - b);
  }
  return [];
}

/** What /proc says about `pid`; null when it has exited meanwhile. */
export async function processInfo(pid: number, procRoot = "/proc"): Promise<UnitProcess | null> {
  const [stat, statm, cmdline] = await Promise.all([
    readFile(path.join(procRoot, String(pid), "stat"), "utf8").catch(() => null),
    readFile(path.join(procRoot, String(pid), "statm"), "utf8").catch(() => ""),
    readFile(path.join(procRoot, String(pid), "cmdline"), "utf8").catch(() => ""),
  ]);
  if (stat === null) return null;
  // The command (field 2) may hold spaces and parentheses: fields after its last ")".
  const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const pages = Number(statm.split(" ")[1]);
  const command = cmdline.split("\0").filter((w) => w !== "").join(" ") || `[${comm}]`;
  return { pid, ppid: Number(rest[1]), sid: Number(rest[3]), rssBytes: Number.isFinite(pages) ? pages * 4096 : 0, command };
}

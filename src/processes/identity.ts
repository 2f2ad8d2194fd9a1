/** Whether a process runs: by PID alone, or as the very process an identity names. */
import path from "node:path";
import { readProc } from "./read.js";

/** Whether a process exists; one that belongs to another user (EPERM) counts as existing. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A process told apart from a later one given the same PID: its start time in clock ticks since boot
 * (field 22 of /proc/PID/stat) and the boot it ran in. Null where /proc could not be read.
 */
export interface ProcessIdentity {
  pid: number;
  startTicks: number | null;
  bootId: string | null;
}

/** Fields 3 on of /proc/PID/stat (state first), or null when the process is gone or /proc cannot be read. */
function statFields(pid: number, procRoot: string): string[] | null {
  const stat = readProc(path.join(procRoot, String(pid), "stat"));
  // The command (field 2) may hold spaces and parentheses: count fields after its last ")".
  return stat === "" ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Field 22 (starttime) of /proc/PID/stat, or null when the process is gone or /proc cannot be read. */
export function startTicks(pid: number, procRoot = "/proc"): number | null {
  const ticks = Number(statFields(pid, procRoot)?.[19]);
  return Number.isInteger(ticks) ? ticks : null;
}

let bootIdCache: string | null | undefined;

/** This boot's id (/proc/sys/kernel/random/boot_id), or null where it cannot be read. */
export function bootId(): string | null {
  bootIdCache ??= readProc("/proc/sys/kernel/random/boot_id").trim() || null;
  return bootIdCache;
}

/** This process's identity, to be recorded where others judge whether it still runs. */
export function selfIdentity(): ProcessIdentity {
  return { pid: process.pid, startTicks: startTicks(process.pid), bootId: bootId() };
}

/**
 * Whether the process `id` names still runs: same boot, same PID, same start time, not a zombie. A PID
 * now held by another process (reused, or a PID from another boot) is not it. Fields not recorded
 * (null: /proc was unreadable; undefined: written by an older version) fall back to the PID alone.
 */
export function isRunning(id: { pid: number; startTicks?: number | null; bootId?: string | null }): boolean {
  const boot = bootId();
  if (id.bootId != null && boot !== null && id.bootId !== boot) return false;
  if (id.startTicks == null) return processAlive(id.pid);
  const fields = statFields(id.pid, "/proc");
  // A zombie has ended: only its parent has not collected its exit status yet.
  if (fields) return Number(fields[19]) === id.startTicks && fields[0] !== "Z" && fields[0] !== "X";
  // /proc works but does not show the PID: gone, or another user's under hidepid, so not the recorded process.
  return startTicks(process.pid) === null && processAlive(id.pid);
}

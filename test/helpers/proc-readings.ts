/**
 * Readings of running processes from /proc, for the tests, the reliability suite and the bench (all run
 * as root, so they may read any process). Each returns null once the process is gone.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";

/** The value of one line of /proc/PID/status (`Name`, `State`, `Uid`, `VmRSS`, ...), without its key. */
export function statusField(pid: number, key: string): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  return new RegExp(`^${key}:\\s*(.*)$`, "m").exec(text)?.[1] ?? null;
}

/** A memory line of /proc/PID/status: `VmRSS` (resident now) or `VmHWM` (peak resident so far), in KiB. */
export function memoryKiB(pid: number, field: "VmRSS" | "VmHWM"): number | null {
  const kib = /^(\d+) kB$/.exec(statusField(pid, field) ?? "")?.[1];
  return kib === undefined ? null : Number(kib);
}

/** A process's peak resident set (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number | null {
  const kib = memoryKiB(pid, "VmHWM");
  return kib === null ? null : kib / 1024;
}

/** Open fds and resident memory (VmRSS; 0 where the kernel shows none, as for a zombie). */
export function procStats(pid: number): { fds: number; rssKiB: number } | null {
  let fds: number;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
  if (statusField(pid, "Name") === null) return null;
  return { fds, rssKiB: memoryKiB(pid, "VmRSS") ?? 0 };
}

/** The real uid a process runs as. */
export function procUid(pid: number): number | null {
  const uid = /^\d+/.exec(statusField(pid, "Uid") ?? "")?.[0];
  return uid === undefined ? null : Number(uid);
}

/** Whether a process has stopped: gone, or a zombie its parent has not collected yet. */
export function hasStopped(pid: number): boolean {
  const state = statusField(pid, "State");
  return state === null || state.startsWith("Z");
}

/** Resolves once `/proc/PID/exe` is node (an exec chain finished); false if the process ended first. */
export async function waitUntilNode(pid: number, deadlineMs = 5000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return false;
    }
    if (path.basename(exe).startsWith("node")) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

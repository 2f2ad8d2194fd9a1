/** Memory of running processes, read from /proc (the driver is root, so it may read any). */
import fs from "node:fs";

/** A process's peak resident set (VmHWM) in MiB; null when it is gone. */
export function peakRssMiB(pid: number): number | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kib === undefined ? null : Number(kib) / 1024;
}

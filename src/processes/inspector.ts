/** Facts about a process from /proc: which cgroup holds it, when it started, its environment. */
import path from "node:path";
import { startTicks } from "./identity.js";
import { readEnviron } from "./environ.js";
import { readProc } from "./read.js";

/** What the sweep asks about processes; tests fake it. */
export interface ProcessInspector {
  /**
   * Whether the process runs in the cgroup `controlGroup` (a unit's ControlGroup, as its manager reports
   * it) or below it; false when it cannot be read, and for an empty `controlGroup` (a unit running nothing).
   */
  inCgroup(pid: number, controlGroup: string): Promise<boolean>;
  /** When the process started, in ms since the epoch; null when it cannot be read. */
  startedAtMs(pid: number): Promise<number | null>;
  /** The environment it started with (values as bytes, latin1), or null when it cannot be read. */
  environ(pid: number): Promise<Map<string, string> | null>;
}

// USER_HZ, the unit of /proc/PID/stat's start time: 100 on every Linux architecture node runs on.
const CLOCK_TICKS_PER_S = 100;

/** Reads /proc (or a fake tree under `procRoot`). */
export class ProcProcessInspector implements ProcessInspector {
  constructor(private readonly procRoot = "/proc") {}

  async inCgroup(pid: number, controlGroup: string): Promise<boolean> {
    if (controlGroup === "") return false;
    const text = readProc(path.join(this.procRoot, String(pid), "cgroup"));
    // `0::/user.slice/.../app.slice/app-agent\x2dgateway.slice/agent-gateway@liam.service` (v2) or
    // `1:name=systemd:/...` (v1, hybrid): the manager's ControlGroup is the path in the hierarchy it runs
    // in; a process in a sub-cgroup (Delegate=) is the unit's too. A unit of the same name under another
    // manager (another user's) has another path.
    return text.split("\n").some((line) => {
      const p = line.split(":").slice(2).join(":");
      return p === controlGroup || p.startsWith(`${controlGroup}/`);
    });
  }

  async environ(pid: number): Promise<Map<string, string> | null> {
    return readEnviron(pid, this.procRoot);
  }

  async startedAtMs(pid: number): Promise<number | null> {
    const ticks = startTicks(pid, this.procRoot);
    const bootMs = this.bootMs();
    if (ticks === null || !Number.isFinite(bootMs)) return null;
    return bootMs + (ticks * 1000) / CLOCK_TICKS_PER_S;
  }

  private boot = { ms: NaN, readAt: -Infinity };

  /**
   * Boot time in the wall clock, from uptime (10 ms steps) rather than /proc/stat's btime, which is whole
   * seconds. Read at most once a second: a sweep asks it for 200 processes, and `top` runs long enough
   * to see the wall clock stepped.
   */
  private bootMs(): number {
    const now = Date.now();
    if (!Number.isFinite(this.boot.ms) || now - this.boot.readAt > 1000 || now < this.boot.readAt) {
      this.boot = { ms: now - Number(readProc(path.join(this.procRoot, "uptime")).split(" ")[0]) * 1000, readAt: now };
    }
    return this.boot.ms;
  }
}

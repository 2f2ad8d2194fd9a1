/** The resource limits the manager applies to a profile's unit, as it reports them (not as we wrote them). */
import type { SystemdManager } from "../systemd/types.js";

/** Raw manager values: bytes, µs per s of CPU, tasks, µs; "infinity" where there is no limit. */
export interface LimitsInForce {
  MemoryMax: number | "infinity";
  CPUQuotaPerSecUSec: number | "infinity";
  TasksMax: number | "infinity";
  RestartUSec: number | "infinity";
}

const PROPS = ["MemoryMax", "CPUQuotaPerSecUSec", "TasksMax", "RestartUSec"] as const;

/** Read the four limit properties of `unit` from the manager. */
export async function limitsInForce(sd: SystemdManager, unit: string): Promise<LimitsInForce> {
  const p = await sd.properties(unit, PROPS);
  const value = (v: unknown): number | "infinity" => (v === "infinity" ? "infinity" : Number(v));
  return { MemoryMax: value(p.MemoryMax), CPUQuotaPerSecUSec: value(p.CPUQuotaPerSecUSec), TasksMax: value(p.TasksMax), RestartUSec: value(p.RestartUSec) };
}

function bytes(n: number): string {
  for (const [suffix, size] of [["T", 1024 ** 4], ["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${suffix}`;
  }
  return `${n}B`;
}

/** One line for people: `memory 512M, cpu 50%, tasks 64, restart after 5s`. */
export function limitsText(l: LimitsInForce): string {
  const mem = l.MemoryMax === "infinity" ? "no limit" : bytes(l.MemoryMax);
  const cpu = l.CPUQuotaPerSecUSec === "infinity" ? "no limit" : `${Math.round(l.CPUQuotaPerSecUSec / 10_000)}%`;
  const tasks = l.TasksMax === "infinity" ? "no limit" : String(l.TasksMax);
  const restart = l.RestartUSec === "infinity" ? "never" : `${l.RestartUSec / 1_000_000}s`;
  return `memory ${mem}, cpu ${cpu}, tasks ${tasks}, restart after ${restart}`;
}

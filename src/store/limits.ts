/**
 * Per-profile resource limits: what `profiles limits` set, kept as `profiles/NAME/limits.json` (the
 * current ones, snapshotted into every generation so that a rollback restores them) and rendered as the
 * instance's drop-in `agent-gateway@NAME.service.d/50-limits.conf`, which the manager reads.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { optional, strictObject, string } from "../schema.js";
import { BadFileError, UsageError } from "../errors.js";
import { profileDir, type Paths } from "../paths.js";
import { unitName } from "../systemd/types.js";
import { ensureDir, removeFile, writeFileAtomic, writeFileIfChanged } from "./atomic.js";

/**
 * Limits as systemd values (`512M`, `50%`, `64`, `5s`), and the crash-loop policy (core/restart-policy.ts
 * checks its flags); an absent key is the template's default.
 */
export interface Limits {
  MemoryMax?: string;
  CPUQuota?: string;
  TasksMax?: string;
  RestartSec?: string;
  StartLimitBurst?: string;
  StartLimitIntervalSec?: string;
  RestartPreventExitStatus?: string;
  RestartSteps?: string;
  RestartMaxDelaySec?: string;
}

/** The keys, in the order the drop-in lists them. */
export const LIMIT_KEYS = ["MemoryMax", "CPUQuota", "TasksMax", "RestartSec", "StartLimitBurst", "StartLimitIntervalSec", "RestartPreventExitStatus", "RestartSteps", "RestartMaxDelaySec"] as const;

// Keys of the [Unit] section; every other is [Service].
const UNIT_KEYS: ReadonlySet<string> = new Set(["StartLimitBurst", "StartLimitIntervalSec"]);

const limitsSchema = strictObject({
  MemoryMax: optional(string()),
  CPUQuota: optional(string()),
  TasksMax: optional(string()),
  RestartSec: optional(string()),
  StartLimitBurst: optional(string()),
  StartLimitIntervalSec: optional(string()),
  RestartPreventExitStatus: optional(string()),
  RestartSteps: optional(string()),
  RestartMaxDelaySec: optional(string()),
});

/** Check a limits object read from a file or a generation (they are written by us, but may be edited). */
export function parseLimits(value: unknown): Limits | null {
  const r = limitsSchema.safeParse(value);
  return r.success ? r.data : null;
}

const SIZE = /^(\d+(?:\.\d+)?)([KMGT]?)$/i;
const UNIT: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `--memory-max`: bytes with an optional K/M/G/T suffix (base 1024, as systemd reads it), or infinity. */
export function checkMemoryMax(v: string): string {
  const text = v.trim();
  if (text === "infinity") return text;
  const m = SIZE.exec(text);
  const factor = m ? UNIT[(m[2] ?? "").toUpperCase()]! : NaN;
  const bytes = m ? Number(m[1]) * factor : NaN;
  // systemd ignores a size it cannot hold in 64 bits, a fraction counted as one more unit (its parse_size),
  // with a warning in its log: the limit would not hold.
  if (!m || !(bytes >= 1024 * 1024 && Math.ceil(Number(m[1])) * factor < 2 ** 64)) {
    throw new UsageError(`--memory-max "${v}" must be a size from 1M to below 16777216T (2^64 bytes), such as 512M or 2G (K, M, G, T are powers of 1024), or infinity`);
  }
  return `${m[1]}${(m[2] ?? "").toUpperCase()}`;
}

/** `--cpu-quota`: a percentage of one CPU, 1-100000 (200% is two CPUs). */
export function checkCpuQuota(v: string): string {
  const m = /^(\d+)%?$/.exec(v.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 1 && n <= 100_000)) throw new UsageError(`--cpu-quota "${v}" must be a whole percentage of one CPU, 1%-100000% (200% is two CPUs)`);
  return `${n}%`;
}

/** `--tasks-max`: processes and threads the unit may have, 1-4194304, or infinity. */
export function checkTasksMax(v: string): string {
  const text = v.trim();
  if (text === "infinity") return text;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 4_194_304)) throw new UsageError(`--tasks-max "${v}" must be a whole number 1-4194304, or infinity`);
  return String(n);
}

/** `--restart-sec`: seconds the manager waits before restarting a crashed gateway, 0-3600. */
export function checkRestartSec(v: string): string {
  const text = v.trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 3600)) throw new UsageError(`--restart-sec "${v}" must be a number of seconds, 0-3600 (e.g. 5 or 0.5)`);
  return `${n}s`;
}

/** The current limits file of a profile. */
export function limitsFile(paths: Paths, name: string): string {
  return path.join(profileDir(paths, name), "limits.json");
}

/** The instance's drop-in that carries its limits. */
export function limitsDropIn(paths: Paths, name: string): string {
  return path.join(paths.unitDir, `${unitName(name)}.d`, "50-limits.conf");
}

/** The profile's current limits ({} when none were ever set). */
export async function readLimits(paths: Paths, name: string): Promise<Limits> {
  const file = limitsFile(paths, name);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  let parsed: Limits | null = null;
  try {
    parsed = parseLimits(JSON.parse(text));
  } catch {
    parsed = null;
  }
  if (!parsed) throw new BadFileError(file, "is not a limits object", `set the limits again with \`profiles limits ${name} ...\``);
  return parsed;
}

/** The drop-in's text for `limits`, or null when there are none (the file is then removed). */
export function renderLimits(name: string, limits: Limits): string | null {
  const set = LIMIT_KEYS.filter((k) => limits[k] !== undefined);
  if (set.length === 0) return null;
  // A list setting adds to the template's; an empty assignment first makes it replace them.
  const line = (k: (typeof LIMIT_KEYS)[number]) => (k === "RestartPreventExitStatus" ? `${k}=\n${k}=${limits[k]}` : `${k}=${limits[k]}`);
  const unit = set.filter((k) => UNIT_KEYS.has(k)).map(line);
  const service = set.filter((k) => !UNIT_KEYS.has(k)).map(line);
  const sections = [...(unit.length > 0 ? [`[Unit]\n${unit.join("\n")}`] : []), ...(service.length > 0 ? [`[Service]\n${service.join("\n")}`] : [])];
  return `# Written by \`profiles limits ${name}\`; kept with the profile's generations (a rollback restores it).\n${sections.join("\n")}\n`;
}

/**
 * Make `limits` the profile's current limits: limits.json (0600) and the drop-in (0644), both atomic.
 * Whether the drop-in changed (written with other bytes, or removed): only then does the manager need a reload.
 */
export async function writeLimits(paths: Paths, name: string, limits: Limits): Promise<boolean> {
  await writeFileAtomic(limitsFile(paths, name), `${JSON.stringify(limits, null, 2)}\n`, 0o600);
  const text = renderLimits(name, limits);
  const dropIn = limitsDropIn(paths, name);
  if (text === null) return removeFile(dropIn);
  await ensureDir(path.dirname(dropIn), 0o755);
  return writeFileIfChanged(dropIn, text, 0o644);
}

/** Remove a removed profile's drop-in (and its directory when nothing else is in it), so a new profile of the name starts without it. */
export async function removeLimitsDropIn(paths: Paths, name: string): Promise<boolean> {
  const dropIn = limitsDropIn(paths, name);
  const existed = await removeFile(dropIn).catch(() => false);
  await fs.rmdir(path.dirname(dropIn)).catch(() => {});
  return existed;
}

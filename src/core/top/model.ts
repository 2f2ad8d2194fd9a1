/** `profiles top`'s rows: what one profile shows, and how rows are sorted, filtered and laid out as a table. */
import { UsageError } from "../../errors.js";
import { boolean, enum as enumOf, nullable, number, object, optional, string, type output } from "../../schema.js";
import { profileLabel, table, withHost } from "../../render/table.js";

/**
 * One profile as `top` shows it (`top --once --json` prints these). A schema, not only a type: across hosts
 * (`top --host`) the rows come from another machine and are checked before they are drawn.
 */
export const topRowSchema = object({
  /** The host it runs on, when `top --host` shows several; absent for this host's own. */
  host: optional(string()),
  name: string(),
  port: nullable(number()),
  activeState: string(),
  subState: string(),
  /** Kept down by `profiles disable`, as `list` says. */
  disabled: boolean(),
  pid: nullable(number()),
  /** When its main process started, in ms since the epoch (of its host's clock); null when none runs. */
  startedAtMs: nullable(number()),
  restarts: number(),
  memoryBytes: nullable(number()),
  /** `cgroup`: the unit's MemoryCurrent; `rss`: the resident memory of its processes, from /proc. */
  memorySource: nullable(enumOf(["cgroup", "rss"])),
  /** Of one core; over the last interval, or since the process started when there is no earlier sample. */
  cpuPercent: nullable(number()),
  /** `cgroup`: from the unit's CPUUsageNSec; `proc`: from its processes' ticks in /proc. */
  cpuSource: nullable(enumOf(["cgroup", "proc"])),
  /** The last probe's verdict; null when it does not run or has not been probed yet. */
  health: nullable(object({ ok: boolean(), reason: string() })),
  pendingRestart: nullable(boolean()),
});
export type TopRow = output<typeof topRowSchema>;

/** What the rows can be sorted by. */
export type SortKey = "name" | "memory" | "cpu" | "restarts" | "port" | "state" | "uptime";

/** The key pressed for each sort (`n`, `m`, ...), and the name `--sort` takes. */
export const SORT_KEYS: Readonly<Record<string, SortKey>> = { n: "name", m: "memory", c: "cpu", r: "restarts", p: "port", s: "state", u: "uptime" };

/** `--sort`'s value as a SortKey: the name or its key; exit 2 naming the choices otherwise. */
export function parseSortKey(value: unknown): SortKey {
  const names = Object.values(SORT_KEYS);
  const v = String(value);
  // Own keys only: `--sort constructor` is no sort key.
  const key = (names as string[]).includes(v) ? (v as SortKey) : Object.hasOwn(SORT_KEYS, v) ? SORT_KEYS[v] : undefined;
  if (key === undefined) throw new UsageError(`--sort "${v}" is not a sort key: give one of ${names.join(", ")}`, "see `profiles top --help`");
  return key;
}

// The larger numbers are the interesting ones: these sort largest first.
const DESCENDING: ReadonlySet<SortKey> = new Set(["memory", "cpu", "restarts", "uptime"]);

function sortValue(r: TopRow, key: SortKey, nowMs: number): number | string | null {
  switch (key) {
    case "name":
      return r.name;
    case "memory":
      return r.memoryBytes;
    case "cpu":
      return r.cpuPercent;
    case "restarts":
      return r.restarts;
    case "port":
      return r.port;
    case "state":
      return stateCell(r);
    case "uptime":
      return r.startedAtMs === null ? null : nowMs - r.startedAtMs;
  }
}

/** The rows sorted by `key` (numbers largest first, names and ports smallest first), unknown values last, ties by (host and) name. */
export function sortRows(rows: readonly TopRow[], key: SortKey, nowMs = Date.now()): TopRow[] {
  const sign = DESCENDING.has(key) ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = sortValue(a, key, nowMs);
    const y = sortValue(b, key, nowMs);
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      if (c !== 0) return sign * c;
    }
    return profileLabel(a).localeCompare(profileLabel(b));
  });
}

/** The rows whose host, name, state or health contains `text`, in any case; all of them for "". */
export function filterRows(rows: readonly TopRow[], text: string): TopRow[] {
  const t = text.toLowerCase();
  if (t === "") return [...rows];
  return rows.filter((r) => [r.host ?? "", r.name, stateCell(r), healthCell(r)].some((s) => s.toLowerCase().includes(t)));
}

/** `disabled`, or the unit's `active/running`, as `list` shows it. */
export function stateCell(r: Pick<TopRow, "disabled" | "activeState" | "subState">): string {
  return r.disabled ? "disabled" : `${r.activeState}/${r.subState}`;
}

function healthCell(r: TopRow): string {
  if (r.health === null) return "-";
  return r.health.ok ? "ok" : r.health.reason;
}

/** Bytes in binary units, one decimal: `51.2M`. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "-";
  const units = ["B", "K", "M", "G", "T"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}

/** A duration as its two largest units: `45s`, `12m05s`, `3h07m`, `2d04h`. */
export function formatUptime(ms: number | null): string {
  if (ms === null || ms < 0) return "-";
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** The table's header. */
export const TOP_HEADERS = ["NAME", "PORT", "STATE", "HEALTH", "PID", "UPTIME", "RESTARTS", "MEM", "CPU%", "PENDING"];

/** A row's cells, in TOP_HEADERS' order. */
export function topCells(r: TopRow, nowMs: number): string[] {
  return [
    r.name,
    r.port === null ? "-" : String(r.port),
    stateCell(r),
    healthCell(r),
    r.pid === null ? "-" : String(r.pid),
    formatUptime(r.startedAtMs === null ? null : nowMs - r.startedAtMs),
    String(r.restarts),
    formatBytes(r.memoryBytes),
    r.cpuPercent === null ? "-" : r.cpuPercent.toFixed(1),
    r.pendingRestart === null ? "-" : r.pendingRestart ? "yes" : "no",
  ];
}

/** The rows as the aligned table `top --once` prints and each frame shows. */
export function topTable(rows: readonly TopRow[], nowMs = Date.now()): string {
  return table(...withHost(TOP_HEADERS, rows, (r) => topCells(r, nowMs)));
}

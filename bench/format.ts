/** How figures read in the report. */
import type { Summary } from "../test/helpers/stats.js";

/** 5.3 ms, 123 ms, 4.21 s. */
export function ms(v: number): string {
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${v.toFixed(0)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

/** 45.2 MiB. */
export function mib(v: number): string {
  return `${v.toFixed(1)} MiB`;
}

/** 1.42 % (of one core). */
export function pct(v: number): string {
  return `${v.toFixed(2)} %`;
}

/** "median (min–max)" in the metric's unit. */
export function spread(s: Summary, metric: "ms" | "rss" | "cpu" | "cpuMs"): string {
  const f = metric === "ms" || metric === "cpuMs" ? ms : metric === "rss" ? mib : pct;
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** 1.23×. */
export function ratio(v: number): string {
  return `${v.toFixed(2)}×`;
}

/** A markdown table; cells must not hold a pipe. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

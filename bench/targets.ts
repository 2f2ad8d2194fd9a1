/** The table: what is measured against what, and the target each comparison must meet. */
import { summarize, type Summary } from "../test/helpers/stats.js";
import type { Registry, Series } from "./series.js";

/** One line of the results table. */
export interface Target {
  subject: string;
  metric: Metric;
  /** What the row measures of the subject, when not its wall time (its label is then the command's). */
  what?: string;
  /** Compared with another series: the target is a bound on the ratio of medians (none: context only). */
  compare?: { series: string; maxRatio?: number; note?: string };
  /** An absolute bound on the median of peak RSS. */
  limitMiB?: number;
  /** An absolute bound on the median CPU, in % of one core. */
  limitPct?: number;
}

/** What a series holds figures of: wall times, peak RSS, CPU of a long-running command, CPU of each run. */
export type Metric = "ms" | "rss" | "cpu" | "cpuMs";

/** In the order of the table (issue 17), then the bounds of earlier issues that still hold. */
export const TARGETS: Target[] = [
  { subject: "list.profiles", metric: "ms", compare: { series: "list.pm2", maxRatio: 0.6 } },
  { subject: "list.profiles", metric: "ms", compare: { series: "list.systemctl", note: "the floor" } },
  { subject: "ref.version", metric: "ms", compare: { series: "ref.node", maxRatio: 1.5 } },
  { subject: "ref.startup", metric: "ms", compare: { series: "ref.node", note: "any command's start-up: the bundle runs" } },
  { subject: "sweep.profiles", metric: "ms", compare: { series: "sweep.curl", maxRatio: 0.2 } },
  { subject: "roll.parallel5", metric: "ms", compare: { series: "roll.shell5", maxRatio: 1.05 } },
  { subject: "roll.parallel5", metric: "ms", compare: { series: "roll.batch1", note: "what 5 at a time buys the roll" } },
  { subject: "roll.shell5", metric: "ms", compare: { series: "roll.shell", note: "what 5 at a time buys the shell loop on this machine" } },
  { subject: "roll.batch1", metric: "ms", compare: { series: "roll.shell", maxRatio: 1.02 } },
  { subject: "roll.batch1", metric: "ms", compare: { series: "roll.pm2", note: "pm2 two at a time" } },
  { subject: "roll.batch1", metric: "ms", compare: { series: "roll.pm2-serial", note: "pm2 one at a time, as batch 1 is" } },
  // The CLI's CPU during a roll of 20: the bound is 0.5x of its CPU when the issue was filed, which no
  // run of this bench measured (by hand, BENCHMARKS.md: 1.49-2.48 s at load 6-13), so the rows are context.
  // Measured by hand: the packages `npm install -g` of the tarball installs (<= 5).
  { subject: "roll.batch1", metric: "cpuMs", what: "CPU (user+sys) of", compare: { series: "roll.shell", note: "the shell loop's own CPU, with its systemctl and curl processes" } },
  { subject: "roll.parallel5", metric: "cpuMs", what: "CPU (user+sys) of", compare: { series: "roll.shell5", note: "the shell loop's own CPU at 5" } },
  { subject: "top.idle", metric: "cpu", limitPct: 2 },
  { subject: "add.hundredth", metric: "ms", compare: { series: "add.first", maxRatio: 1.3 } },
  { subject: "rss.list200", metric: "rss", limitMiB: 80 },
  { subject: "rss.gateway", metric: "rss", limitMiB: 50 },
  { subject: "rss.gateway", metric: "rss", compare: { series: "rss.pm2-gateway", note: "the same gateway under pm2" } },
  { subject: "fleet.list3", metric: "ms", compare: { series: "fleet.list1", maxRatio: 1.3 } },
  { subject: "fleet.ssh-list3", metric: "ms", compare: { series: "fleet.ssh-list", note: "the same by hand: ssh to each host at once, on this machine's CPUs" } },
  { subject: "fleet.roll2", metric: "ms", compare: { series: "fleet.roll1", maxRatio: 1.15 } },
  { subject: "fleet.ssh-roll2", metric: "ms", compare: { series: "fleet.ssh-roll1", note: "the same by hand: both hosts' rolls at once, on this machine's CPUs" } },
  { subject: "fleet.first", metric: "ms", compare: { series: "fleet.next", note: "no target: the first command to a host, then the next" } },
  { subject: "fleet.ssh-first", metric: "ms", compare: { series: "fleet.ssh-true", note: "ssh alone: a new connection, then a session of the master's" } },
];

/** A series' figures for a metric: wall times, peak RSS, or CPU. */
export function figures(s: Series, metric: Metric): Summary | null {
  return summarize(metric === "ms" ? s.ms : metric === "rss" ? s.rssMiB : metric === "cpuMs" ? s.cpuMs : s.cpuPct);
}

/** How a target came out: met, missed, or not measured (and why). */
export interface Verdict {
  target: Target;
  subject: Series;
  compared: Series | null;
  ratio: number | null;
  met: boolean | null;
  /** Why there is no verdict. */
  missing: string | null;
}

function why(s: Series, metric: Metric): string | null {
  return s.missing ?? (figures(s, metric) === null ? "not measured" : null);
}

/** Judges one target against the figures in `registry`. */
export function judge(target: Target, registry: Registry): Verdict {
  const subject = registry.get(target.subject);
  const compared = target.compare ? registry.get(target.compare.series) : null;
  const missing = why(subject, target.metric) ?? (compared && why(compared, target.metric));
  if (missing) return { target, subject, compared, ratio: null, met: null, missing };
  const median = figures(subject, target.metric)!.median;
  if (compared && target.compare) {
    const ratio = median / figures(compared, target.metric)!.median;
    const max = target.compare.maxRatio;
    return { target, subject, compared, ratio, met: max === undefined ? null : ratio <= max, missing: null };
  }
  const limit = target.limitMiB ?? target.limitPct;
  return { target, subject, compared, ratio: null, met: limit === undefined ? null : median <= limit, missing: null };
}

/** Gives every target's series that no phase made a reason instead of figures (its phase was not run). */
export function markUnmeasured(registry: Registry, why: string): void {
  for (const t of TARGETS) {
    for (const id of [t.subject, t.compare?.series]) {
      if (id !== undefined && !registry.all.has(id)) registry.series(id, id).missing = why;
    }
  }
}

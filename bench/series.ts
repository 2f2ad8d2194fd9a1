/** Series of measurements, and the loop that interleaves the tools compared in one phase. */
import os from "node:os";
import type { CallCounts } from "./dbus-calls.js";
import { tail, type Measurement } from "./exec.js";

/** The figures of one command (or one kind of process) across the runs of a bench. */
export interface Series {
  id: string;
  /** How the report names it, e.g. "`pm2 jlist`, 50 apps". */
  label: string;
  /** Wall time of each counted run. */
  ms: number[];
  /** Peak RSS of each counted run (or of each process sampled). */
  rssMiB: number[];
  /** CPU (user + system) of a long-running command over a window, in % of one core, per counted run. */
  cpuPct: number[];
  /** CPU (user + system) of each counted run, in ms. */
  cpuMs: number[];
  /** Why it has no figures: the command does not exist yet, or it failed (then its output). */
  missing: string | null;
}

/** Every series of a bench, by id; phases add to it and the report reads it. */
export class Registry {
  readonly all = new Map<string, Series>();
  /** D-Bus calls to the manager of one run of some commands, for the analysis. */
  readonly calls: Array<{ label: string; counts: CallCounts }> = [];
  /** The 1-minute load average after each counted round: above the CPU count, other work competed. */
  readonly load: number[] = [];

  /** The series `id`, created with `label` on first use. */
  series(id: string, label: string): Series {
    let s = this.all.get(id);
    if (!s) {
      s = { id, label, ms: [], rssMiB: [], cpuPct: [], cpuMs: [], missing: null };
      this.all.set(id, s);
    }
    return s;
  }

  /** The series `id`; throws when no phase made it (a bug in the bench). */
  get(id: string): Series {
    const s = this.all.get(id);
    if (!s) throw new Error(`bench: no series "${id}"`);
    return s;
  }
}

/** One measured step of a round: runs its command once, and may put things back afterwards (not measured). */
export interface Step {
  series: Series;
  run(): Promise<Measurement>;
}

/** How many rounds a phase runs; the warm-up ones are not counted. */
export interface Rounds {
  warmup: number;
  counted: number;
}

function format(m: Measurement): string {
  return m.ms >= 1000 ? `${(m.ms / 1000).toFixed(2)} s` : `${m.ms.toFixed(0)} ms`;
}

/**
 * Runs the steps in turn, round after round (A, B, C, A, B, C, ...), so that whatever drifts during the
 * bench (page cache, other load) touches every tool alike. A step whose command fails is not run again,
 * and its series says why instead of showing a figure.
 */
export async function interleave(phase: string, steps: readonly Step[], rounds: Rounds, registry: Registry, log: (line: string) => void): Promise<void> {
  const total = rounds.warmup + rounds.counted;
  for (let round = 0; round < total; round++) {
    const counted = round >= rounds.warmup;
    const parts: string[] = [];
    for (const step of steps) {
      if (step.series.missing !== null) continue;
      const m = await step.run();
      if (m.code !== 0) {
        step.series.missing = `failed: exit ${m.code}: ${tail(m.stderr || m.stdout, 4).replace(/\s*\n\s*/g, " | ")}`;
        parts.push(`${step.series.id} FAILED (exit ${m.code})`);
        continue;
      }
      if (counted) {
        step.series.ms.push(m.ms);
        if (m.rssMiB !== null) step.series.rssMiB.push(m.rssMiB);
        if (m.cpuMs !== null) step.series.cpuMs.push(m.cpuMs);
      }
      parts.push(`${step.series.id} ${format(m)}`);
    }
    if (counted) registry.load.push(os.loadavg()[0]!);
    log(`${phase} ${counted ? `round ${round - rounds.warmup + 1}/${rounds.counted}` : "warm-up"}: ${parts.join(", ")}`);
  }
}

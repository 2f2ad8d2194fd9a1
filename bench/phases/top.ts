/** `profiles top` left idle in a real terminal (tmux) on the list phase's 50 running profiles: its CPU. */
import { readdirSync } from "node:fs";
import { readProc } from "../../src/processes/read.js";
import { asUserArgv } from "../../test/helpers/sandbox.js";
import { Terminal } from "../../test/helpers/tmux.js";
import type { BenchContext } from "../context.js";
import { detectVerb } from "../tools.js";
import { LIST_COUNT } from "./list.js";

/** How long each run is watched, once top shows every profile with its first reading. */
export const TOP_WINDOW_MS = 30_000;
const TOP_RUNS = 3;
// USER_HZ: /proc/PID/stat counts CPU time in 10 ms ticks.
const MS_PER_TICK = 10;

/** The user's `profiles top` process: its cmdline ends in `cli.cjs top`. */
function topPid(uid: number): number | null {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = readProc(`/proc/${entry}/cmdline`).split("\0");
    const status = readProc(`/proc/${entry}/status`);
    if (cmdline.at(-2) === "top" && cmdline.at(-3)?.endsWith("cli.cjs") && new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status)) return Number(entry);
  }
  return null;
}

/** utime + stime of `pid`, in ticks. */
function cpuTicks(pid: number): number {
  const stat = readProc(`/proc/${pid}/stat`);
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

/** Runs `profiles top` TOP_RUNS times on the main user's running profiles, each watched for TOP_WINDOW_MS. */
export async function topPhase(ctx: BenchContext): Promise<void> {
  const { main, tools, registry } = ctx;
  const series = registry.series("top.idle", `\`profiles top\` idle on ${LIST_COUNT} running profiles, CPU (user+sys) over ${TOP_WINDOW_MS / 1000} s, % of one core`);
  if (!(await detectVerb(main, tools, "top")).exists) {
    series.missing = "not measured: `profiles top` not implemented yet";
    return;
  }
  for (let run = 0; run < TOP_RUNS; run++) {
    // Tall enough for every row: what is drawn is what a user would see.
    const term = new Terminal(asUserArgv(main, tools.profiles("top")), 160, LIST_COUNT + 10);
    try {
      // Idle from here: start-up, the first readings and the first probes are behind it.
      await term.until((s) => new RegExp(`${LIST_COUNT} profile\\(s\\)`).test(s) && (s.match(/\d\.\dM\s/g) ?? []).length >= LIST_COUNT, `top showing ${LIST_COUNT} profiles`, 60_000);
      const pid = topPid(main.uid);
      if (pid === null) throw new Error("bench: the `profiles top` process was not found in /proc");
      const before = cpuTicks(pid);
      const startedAt = Date.now();
      // A measuring window, not a wait for something to happen.
      await new Promise((r) => setTimeout(r, TOP_WINDOW_MS));
      const ticks = cpuTicks(pid) - before;
      series.cpuPct.push(((ticks * MS_PER_TICK) / (Date.now() - startedAt)) * 100);
      ctx.log(`top: ${ticks} ticks of CPU in ${TOP_WINDOW_MS / 1000} s`);
      term.send("q");
      await term.until(() => topPid(main.uid) === null, "top gone after q", 10_000);
    } catch (err) {
      series.missing = `failed: ${err instanceof Error ? err.message : String(err)}`;
      return;
    } finally {
      term.close();
    }
  }
}

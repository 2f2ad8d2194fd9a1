/** Writes BENCHMARKS.md: machine, the results against the targets, every series, analysis, how to rerun. */
import fs from "node:fs";
import { gaps, whereFleetTimeGoes, whereMemoryGoes, whereTimeGoes } from "./analysis.js";
import { describeCalls } from "./dbus-calls.js";
import { mib, ms, pct, ratio, spread, table } from "./format.js";
import type { Machine } from "./machine.js";
import type { Registry, Rounds } from "./series.js";
import { summarize } from "../test/helpers/stats.js";
import { figures, judge, TARGETS, type Verdict } from "./targets.js";
import { CURL_SWEEP, ROLL_LOOP } from "./shell.js";
import { FLEET_FIRST_PORT, FLEET_HOSTS, FLEET_PROFILES } from "./phases/fleet.js";

/** Everything the report says besides the series themselves. */
export interface ReportInput {
  machine: Machine;
  registry: Registry;
  rounds: Rounds;
  quick: Rounds;
  startedAt: Date;
  durationMs: number;
  commit: string;
}

function minutes(v: number): string {
  const s = Math.round(v / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function loadLine(load: readonly number[], cpus: number): string {
  const s = summarize(load);
  if (!s) return "- Load average: not sampled";
  const busy = s.max > cpus ? ` Above ${cpus}, other work on the machine competed with the bench: interleaving spreads it over every tool, but the spreads (min–max) widen.` : "";
  return `- 1-minute load average after each round: median ${s.median.toFixed(1)}, max ${s.max.toFixed(1)}.${busy}`;
}

function verdictRow(v: Verdict): string[] {
  const { target, subject, compared } = v;
  const s = figures(subject, target.metric);
  const c = compared ? figures(compared, target.metric) : null;
  const bound = target.compare?.maxRatio !== undefined ? `≤ ${target.compare.maxRatio.toFixed(2)}×` : target.limitMiB !== undefined ? `≤ ${target.limitMiB} MiB` : target.limitPct !== undefined ? `≤ ${target.limitPct} % of one core` : `— (${target.compare?.note ?? "context"})`;
  const name = (series: typeof subject): string => (target.what ? `${target.what} ${series.label}` : series.label);
  return [
    name(subject),
    subject.missing ?? (s ? spread(s, target.metric) : "not measured"),
    compared ? `${name(compared)}: ${compared.missing ?? (c ? spread(c, target.metric) : "not measured")}` : "—",
    v.ratio === null ? "—" : ratio(v.ratio),
    bound,
    v.met === null ? "—" : v.met ? "yes" : "**no**",
  ];
}

function seriesRows(registry: Registry): string[][] {
  return [...registry.all.values()].map((s) => {
    const r = summarize(s.rssMiB);
    if (s.missing) return [s.label, "0", s.missing, "", "", ""];
    // A long-running command (top) has no wall time: its CPU, in % of one core, takes those columns.
    const cpu = summarize(s.cpuPct);
    const [t, f] = cpu && s.ms.length === 0 ? [cpu, pct] : [summarize(s.ms), ms];
    return [s.label, String(t?.n ?? r?.n ?? 0), t ? f(t.median) : "—", t ? f(t.min) : "—", t ? f(t.max) : "—", r ? `${mib(r.median)} (${mib(r.min)}–${mib(r.max)})` : "—"];
  });
}

/** The whole of BENCHMARKS.md. */
export function renderReport(input: ReportInput): string {
  const { machine, registry, rounds, quick } = input;
  const verdicts = TARGETS.map((t) => judge(t, registry));
  const missed = verdicts.filter((v) => v.met === false).length;
  const unmeasured = verdicts.filter((v) => v.missing !== null).length;
  const judged = verdicts.filter((v) => v.met !== null).length;
  const gapLines = gaps(verdicts, registry);
  const out = [
    "# Benchmarks",
    "",
    `Written by \`npm run bench\` (scripts/bench.sh, bench/) on ${input.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC` +
      ` at commit ${input.commit}; the whole run took ${minutes(input.durationMs)}. Everything down to the hand-written` +
      " part at the end is generated: rerun rather than edit it.",
    "",
    "## Machine",
    "",
    `- ${machine.cpus} CPUs: ${machine.cpuModel}; ${machine.memoryGiB.toFixed(1)} GiB of memory`,
    `- ${machine.os}, ${machine.kernel}`,
    `- Node ${machine.node}, ${machine.systemd}, pm2 ${machine.pm2}`,
    loadLine(registry.load, machine.cpus),
    `- Rounds, each tool once per round in turn (A, B, C, A, B, C, ...): roll, add and sweep rows ${rounds.counted},` +
      ` list and start-up rows ${quick.counted} (the fleet's: roll rows ${rounds.counted}, list and first-command rows ${quick.counted}),` +
      ` after ${rounds.warmup} warm-up round not counted.` +
      (rounds.counted < 10 ? " **Fewer than 10 rounds: a quick check, not a result.**" : ""),
    "",
    "## Results",
    "",
    `Medians, with (min–max). ${judged - missed} of ${judged} targets met` +
      (unmeasured > 0 ? `; ${unmeasured} row${unmeasured > 1 ? "s" : ""} not measured.` : "."),
    "",
    table(["what", "measured", "compared with", "ratio", "target", "met"], verdicts.map(verdictRow)),
    "",
    "## Every series",
    "",
    "Wall time of the whole process as a user waits for it; peak RSS as GNU time reports it (the largest of the",
    "process and its children), or VmHWM from /proc for long-running gateways (one sample per process).",
    "",
    table(["series", "runs", "median", "min", "max", "peak RSS, median (min–max)"], seriesRows(registry)),
    "",
    "## Where the time goes",
    "",
    ...whereTimeGoes(registry),
    ...whereFleetTimeGoes(registry),
    "",
    "## Where the memory goes",
    "",
    ...whereMemoryGoes(registry),
    "",
    "## D-Bus calls to the user manager",
    "",
    "One more run of each command (not timed) under `busctl --user monitor`: the method calls it sent to the manager.",
    "",
    table(["command", "calls (by method)"], registry.calls.map((c) => [c.label, describeCalls(c.counts)])),
    "",
    "## Gaps",
    "",
    ...(gapLines.length > 0 ? gapLines : ["Every measured target is met."]),
    ...verdicts.filter((v) => v.missing !== null && v.target.compare?.maxRatio !== undefined).map((v) => `- ${v.subject.label}: ${v.missing}`),
    "",
    "## How it is measured",
    "",
    "- A private `systemd --user` for a throwaway user (scripts/user-manager.sh, the one the tests use) holds the",
    "  profiles; a second one, with none, is where the 1st `profiles add` is timed. The driver runs as root and",
    "  starts every measured command as that user (its uid, gid and login environment), under",
    "  `/usr/bin/time -f %M`; wall time is taken around the spawned process.",
    "- pm2 runs the same reference gateway file, as the same user with its own `PM2_HOME`, in fork mode (its",
    "  default) with `wait_ready` (the gateway sends `process.send('ready')` once listening, when it has an IPC",
    "  channel). Its apps listen on ports of their own (20500 up; the profiles use 20000 up), so both run at once",
    "  and every round interleaves them. In fork mode `pm2 reload` is a restart",
    "  (stop, start, wait for ready), two apps at a time by default; `--parallel 1` is measured too.",
    "- A roll run counts only if afterwards every gateway answers `/health` from a new PID; a list run only if it",
    "  printed one entry per gateway. A command that fails is not run again and its row says why.",
    `- The fleet rows: ${FLEET_HOSTS.length} ssh "hosts" on this machine (test/helpers/ssh-hosts.ts, as the fleet tests use), each an`,
    `  sshd on a loopback address of its own (${FLEET_HOSTS.map((h) => h.addr).join(", ")}; port 2222) logging into a throwaway user with its own`,
    `  \`systemd --user\` and ${FLEET_PROFILES} running profiles (ports ${FLEET_FIRST_PORT} up), and a driver user whose ssh config names them. The`,
    "  driver runs `profiles --host` with `AP_SSH_CONFIG`; the warm rows reuse the master connections the warm-up",
    "  round opened (ControlPersist 300 s), the first-command rows start from an empty runtime dir (so no control",
    "  socket) and end the master afterwards. The by-hand rows are `ssh HOST CMD &` for each host, then `wait`,",
    "  through the same control sockets. All hosts share this machine's CPUs: hosts at once compete for them,",
    "  which real hosts would not.",
    "- The shell roll loop (arguments: the batch size, 1 or 5, then NAME:PORT pairs):",
    "",
    "```bash",
    ROLL_LOOP,
    "```",
    "",
    "- The curl loop (arguments: the ports; it is handed them, so it reads no files and asks no unit state):",
    "",
    "```bash",
    CURL_SWEEP,
    "```",
    "",
    "## How to rerun",
    "",
    "```sh",
    "npm ci",
    "sudo npm run bench                 # as root: it starts private user managers and ssh hosts; 20-40 minutes on 2 cores",
    "sudo npm run bench -- --runs 21    # more rounds (the quick rows get twice as many)",
    "sudo npm run bench -- --phases fleet --runs 3 --out /tmp/b.md   # only some rows (roll, list, top, add, sweep, fleet), elsewhere",
    "```",
    "",
    "It builds, stages the app, starts two private user managers, runs `dist/bench/run.js`, writes this file and",
    "removes the users, their managers, pm2 and every gateway at the end.",
    "",
  ];
  return out.join("\n");
}

/** Below this line BENCHMARKS.md is written by people, and a rerun keeps it. */
export const KEPT_MARKER = "<!-- Written by hand below this line; `npm run bench` keeps it when it rewrites the file. -->";

/** Writes the report to `file`, keeping whatever was written by hand below KEPT_MARKER. */
export function writeReport(file: string, input: ReportInput): void {
  const previous = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const at = previous.indexOf(KEPT_MARKER);
  const kept = at >= 0 ? previous.slice(at) : `${KEPT_MARKER}\n`;
  fs.writeFileSync(file, `${renderReport(input)}\n${kept}`);
}

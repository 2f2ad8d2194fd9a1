import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { memoryKiB, procStats, statusField } from "../helpers/proc-readings.js";
import { spawnCli, type Sandbox } from "../helpers/sandbox.js";
import { median } from "../helpers/stats.js";
import { initialisedSandbox } from "./util.js";

// Ports of this file only.
const RANGE = "19800-19849";
const NAMES = ["w1", "w2", "w3", "w4", "w5"];
// 200 rolls of all 5 at once with no stability wait: 1000 gateway restarts in a few minutes. The gate is
// still the real one (active, /health 200); only --min-healthy-time is cut.
const CYCLES = Number(process.env.AP_SOAK_CYCLES ?? 200);
const ROLL = ["roll", "--max-parallel", "5", "--min-healthy-time", "0", "--healthy-deadline", "20", "--json"];
const WINDOW = 20;

let sb: Sandbox;
interface Sample { fds: number; rssKiB: number }
const gateway: Sample[] = [];
const manager: Sample[] = [];
const bus: Sample[] = [];
const cliPeakKiB: number[] = [];
const cycleMs: number[] = [];
let figures: Record<string, unknown> = {};

before(async () => {
  sb = await initialisedSandbox(RANGE, NAMES);
});
after(async () => {
  console.log(`# reliability figures (soak): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

/** The user's dbus-daemon (the user bus the manager socket-activates). */
function busPid(): number {
  const out = spawnSync("pgrep", ["-u", String(sb.uid), "-x", "dbus-daemon"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
  if (!out) throw new Error("no dbus-daemon of the sandbox user");
  return Number(out);
}

/** Runs the CLI, sampling its VmHWM (peak RSS so far) until it exits; returns the exit, stdout and the peak. */
async function rollOnce(): Promise<{ code: number; stdout: string; stderr: string; peakKiB: number }> {
  const child = spawnCli(sb, ROLL);
  let peak = 0;
  let running = true;
  const watch = (async () => {
    while (running) {
      // setpriv and env run first under the same PID: only node's own figures count.
      const hwm = statusField(child.pid, "Name")?.startsWith("node") ? memoryKiB(child.pid, "VmHWM") : null;
      if (hwm !== null) peak = Math.max(peak, hwm);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const r = await child.done;
  running = false;
  await watch;
  return { ...r, peakKiB: peak };
}

function summary(xs: Sample[]): { first: { fds: number; rssKiB: number }; last: { fds: number; rssKiB: number }; max: { fds: number; rssKiB: number } } {
  const pick = (s: Sample[]) => ({ fds: median(s.map((x) => x.fds)), rssKiB: median(s.map((x) => x.rssKiB)) });
  return {
    first: pick(xs.slice(0, WINDOW)),
    last: pick(xs.slice(-WINDOW)),
    max: { fds: Math.max(...xs.map((x) => x.fds)), rssKiB: Math.max(...xs.map((x) => x.rssKiB)) },
  };
}

test(`soak: ${CYCLES} rolls of ${NAMES.length} profiles; gateway, manager, bus and CLI do not grow`, async () => {
  const busAt = busPid();
  const t0 = Date.now();
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const start = Date.now();
    const r = await rollOnce();
    cycleMs.push(Date.now() - start);
    assert.equal(r.code, 0, `cycle ${cycle}: roll exit ${r.code}\n${r.stderr}`);
    cliPeakKiB.push(r.peakKiB);
    const data = JSON.parse(r.stdout) as { rolls: { profiles: { name: string; pidAfter: number | null }[] }[] };
    const rolled = data.rolls.at(-1)!.profiles;
    assert.equal(rolled.length, NAMES.length, `cycle ${cycle}`);
    for (const p of rolled) {
      assert.ok(p.pidAfter, `cycle ${cycle}: ${p.name} has no pid`);
      const s = procStats(p.pidAfter);
      assert.ok(s, `cycle ${cycle}: gateway ${p.name} (pid ${p.pidAfter}) is gone right after a healthy roll`);
      gateway.push(s);
    }
    const m = procStats(sb.managerPid);
    const b = procStats(busAt);
    assert.ok(m && b, `cycle ${cycle}: the manager or the bus is gone`);
    manager.push(m);
    bus.push(b);
  }
  const totalS = (Date.now() - t0) / 1000;
  // Five gateway samples per cycle: the windows are the first and last WINDOW cycles.
  const perWindow = WINDOW * NAMES.length;
  const gw = {
    first: summary(gateway.slice(0, perWindow)).first,
    last: summary(gateway.slice(-perWindow)).first,
    max: summary(gateway).max,
  };
  const mg = summary(manager);
  const bs = summary(bus);
  const cli = { firstMedianKiB: median(cliPeakKiB.slice(0, WINDOW)), lastMedianKiB: median(cliPeakKiB.slice(-WINDOW)), maxKiB: Math.max(...cliPeakKiB) };
  figures = {
    cycles: CYCLES,
    gatewayRestarts: CYCLES * NAMES.length,
    totalSeconds: Math.round(totalS),
    cycleMs: { median: median(cycleMs), max: Math.max(...cycleMs) },
    gateway: gw,
    manager: { start: manager[0], ...mg },
    dbusDaemon: { start: bus[0], ...bs },
    cliPeakRss: cli,
  };

  // Margins: a leak of one fd per roll would add 200, one per restart 1000; RSS noise of a fresh node
  // process is a few MiB, so the last window's median may exceed the first's by 10% at most.
  const grows = (what: string, first: { fds: number; rssKiB: number }, last: { fds: number; rssKiB: number }, fdSlack: number, rssFactor: number, rssSlackKiB: number) => {
    assert.ok(last.fds <= first.fds + fdSlack, `${what}: fds ${first.fds} → ${last.fds}`);
    assert.ok(last.rssKiB <= first.rssKiB * rssFactor + rssSlackKiB, `${what}: RSS ${first.rssKiB} → ${last.rssKiB} KiB`);
  };
  grows("gateway", gw.first, gw.last, 0, 1.1, 0);
  // Long-lived: the manager keeps some per-job bookkeeping; 4 MiB over 1000 restarts is the budget.
  grows("user manager", mg.first, mg.last, 5, 1, 4096);
  grows("dbus-daemon", bs.first, bs.last, 5, 1, 2048);
  assert.ok(cli.lastMedianKiB <= cli.firstMedianKiB * 1.1, `CLI peak RSS ${cli.firstMedianKiB} → ${cli.lastMedianKiB} KiB`);
});

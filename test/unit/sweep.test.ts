import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import health from "../../src/commands/health.js";
import sweep from "../../src/commands/sweep.js";
import { start } from "../../src/commands/start.js";
import { reportFile } from "../../src/core/sweep/report-file.js";
import { runSweep, type SweepDeps, type SweepOptions } from "../../src/core/sweep/run.js";
import { sweepStateFile } from "../../src/core/sweep/state.js";
import type { SweepProfile } from "../../src/core/sweep/types.js";
import { redactUrl, type WebhookOutcome } from "../../src/core/sweep/webhook.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { commitEnvText, history } from "../../src/store/generations.js";
import { acquireLock } from "../../src/store/lock.js";
import { createProfile } from "../../src/store/profiles.js";
import { unitName, type UnitState } from "../../src/systemd/types.js";
import { fakeControlGroup, fakeWorld, snapshot } from "../helpers/fakes.js";
import { parsePromText, sampleValue } from "../helpers/prom-text.js";

const g = { json: true, verbose: false };
const OPTS: SweepOptions = { restartUnhealthy: false, maxRestarts: 3, rollbackBroken: false, waitMs: 300, textfile: null, webhook: null };

type World = Awaited<ReturnType<typeof world>>;

/** A fake host: profiles on ports 9200+, fake processes (cgroups, start times) and a recording webhook. */
async function world() {
  const w = await fakeWorld({ portRange: { from: 9200, to: 9299 } });
  const cgroups = new Map<number, string>();
  const started = new Map<number, number>();
  const posts: { url: string; body: unknown }[] = [];
  let postOutcome: (url: string) => WebhookOutcome = (url) => ({ url: redactUrl(url), sent: true, status: 200, error: null });
  const deps: SweepDeps = {
    procs: { inCgroup: async (pid, cg) => cg !== "" && cg === fakeControlGroup(cgroups.get(pid)), startedAtMs: async (pid) => started.get(pid) ?? null, environ: async () => null },
    post: async (url, body) => {
      posts.push({ url, body });
      return postOutcome(url);
    },
    now: () => new Date(),
  };
  let nextPid = 5000;
  /** A profile whose unit is in `state`, listening with its own main process when running. */
  async function profile(name: string, port: number, state: "running" | "stopped" | "limit" | "restarting", opts: { enabled?: boolean; nRestarts?: number } = {}) {
    await createProfile(w.ctx.paths, name, new Map([["PORT", String(port)]]));
    const unit = unitName(name);
    if (opts.enabled !== false) w.systemd.enabled.add(unit);
    const base: UnitState = { name: unit, loadState: "loaded", activeState: "inactive", subState: "dead", mainPid: 0, nRestarts: opts.nRestarts ?? 0, result: "success", execMainStatus: 0, execMainCode: 0 };
    if (state === "running") {
      const pid = nextPid++;
      Object.assign(base, { activeState: "active", subState: "running", mainPid: pid });
      w.ports.listeners.set(port, { port, pid, command: "node" });
    }
    if (state === "limit") Object.assign(base, { activeState: "failed", subState: "failed", result: "exit-code", execMainCode: 1, execMainStatus: 1, nRestarts: opts.nRestarts ?? 5 });
    if (state === "restarting") Object.assign(base, { activeState: "activating", subState: "auto-restart", result: "exit-code", execMainCode: 1, execMainStatus: 1 });
    w.systemd.units.set(unit, base);
    return unit;
  }
  return { ...w, deps, posts, cgroups, started, profile, setPost: (f: typeof postOutcome) => (postOutcome = f) };
}

const byName = (ps: SweepProfile[], name: string): SweepProfile => {
  const p = ps.find((x) => x.name === name);
  assert.ok(p, `no profile ${name}`);
  return p;
};

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const w = await world();
  try {
    await fn(w);
  } finally {
    await w.cleanup();
  }
}

test("sweep: verdicts for healthy, 500, stopped, start-limit-hit and a foreign listener; report line and state", () =>
  withWorld(async (w) => {
    await w.profile("good", 9200, "running");
    await w.profile("bad500", 9201, "running");
    w.prober.verdicts.set(9201, { ok: false, reason: "status 500", status: 500, latencyMs: 3 });
    await w.profile("down", 9202, "stopped");
    await w.profile("loop", 9203, "limit");
    await w.profile("taken", 9204, "stopped");
    w.ports.listeners.set(9204, { port: 9204, pid: 777, command: "python3" });
    // A gateway started through a wrapper: the listener is a child in the unit's cgroup.
    await w.profile("wrapped", 9205, "running");
    w.ports.listeners.set(9205, { port: 9205, pid: 4242, command: "gw" });
    w.cgroups.set(4242, unitName("wrapped"));

    const r = await runSweep(w.ctx, OPTS, w.deps);
    assert.equal(r.total, 6);
    assert.equal(r.healthy, 2);
    assert.equal(r.restartAttempts, 0);
    const good = byName(r.profiles, "good");
    assert.equal(good.healthy, true);
    assert.equal(good.portHolder?.status, "own");
    assert.equal(byName(r.profiles, "wrapped").portHolder?.status, "own");
    assert.deepEqual(byName(r.profiles, "bad500").problems, ["probe status 500"]);
    assert.deepEqual(byName(r.profiles, "down").problems, ["unit not active (stopped)"]);
    const loop = byName(r.profiles, "loop");
    assert.equal(loop.condition, "start-limit-hit");
    assert.equal(loop.restartsSinceLastSweep, 5);
    const taken = byName(r.profiles, "taken");
    assert.deepEqual(taken.portHolder, { status: "foreign", pid: 777, holder: "process 777 (python3)" });
    assert.match(taken.problems.join("; "), /port 9204 is held by process 777 \(python3\), not by agent-gateway@taken\.service/);
    // Nothing restarted without --restart-unhealthy.
    assert.deepEqual(w.systemd.calls, []);
    // The report: one JSON line, the same result.
    const lines = (await fs.readFile(reportFile(w.ctx.paths), "utf8")).trim().split("\n");
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).healthy, 2);
    // Restarts are counted once: a second sweep sees none new, the counter keeps its total.
    const again = await runSweep(w.ctx, OPTS, w.deps);
    assert.equal(byName(again.profiles, "loop").restartsSinceLastSweep, 0);
    assert.equal(byName(again.profiles, "loop").restartsTotal, 5);
    const state = JSON.parse(await fs.readFile(sweepStateFile(w.ctx.paths), "utf8"));
    assert.deepEqual(state.profiles.loop, { nRestarts: 5, restartsTotal: 5 });
    assert.equal((await fs.readFile(reportFile(w.ctx.paths), "utf8")).trim().split("\n").length, 2);
  }));

test("sweep --restart-unhealthy: restarts within --max-restarts, skips what a restart cannot fix, probes again", () =>
  withWorld(async (w) => {
    await w.profile("a-down", 9200, "stopped");
    await w.profile("b-loop", 9201, "limit");
    await w.profile("c-500", 9202, "running");
    w.prober.verdicts.set(9202, { ok: false, reason: "status 500", status: 500, latencyMs: 3 });
    await w.profile("d-taken", 9203, "stopped");
    w.ports.listeners.set(9203, { port: 9203, pid: 778, command: "nc" });
    await w.profile("e-disabled", 9204, "stopped", { enabled: false });
    await w.profile("f-down", 9205, "stopped");
    w.systemd.crashing.add(unitName("b-loop"));

    const r = await runSweep(w.ctx, { ...OPTS, restartUnhealthy: true, maxRestarts: 3 }, w.deps);
    assert.equal(r.restartAttempts, 3);
    const a = byName(r.profiles, "a-down");
    assert.equal(a.healthy, true);
    assert.deepEqual(a.action && { kind: a.action.kind, ok: "ok" in a.action && a.action.ok }, { kind: "start", ok: true });
    assert.deepEqual(a.before?.problems, ["unit not active (stopped)"]);
    const b = byName(r.profiles, "b-loop");
    assert.equal(b.healthy, false);
    assert.equal(b.action?.kind, "start");
    assert.equal(b.action && "ok" in b.action && b.action.ok, false);
    const c = byName(r.profiles, "c-500");
    assert.equal(c.action?.kind, "restart");
    assert.match((c.action as { error: string }).error, /not healthy within/);
    assert.deepEqual(byName(r.profiles, "d-taken").action, { kind: "skipped", reason: "its port is held by process 778 (nc): a restart cannot help" });
    // A disabled profile is kept down on purpose: no action, not counted as unhealthy.
    const e = byName(r.profiles, "e-disabled");
    assert.deepEqual([e.action, e.disabled, e.condition], [null, true, "disabled"]);
    assert.equal(r.disabled, 1);
    assert.equal(r.unhealthy, r.profiles.filter((p) => !p.healthy).length - 1);
    assert.deepEqual(byName(r.profiles, "f-down").action, { kind: "skipped", reason: "--max-restarts 3 reached" });
    // Start for what is down, restart for what runs (FakeSystemd's restart records a start as well); nothing else.
    assert.deepEqual(w.systemd.calls, ["start agent-gateway@a-down.service", "start agent-gateway@b-loop.service", "restart agent-gateway@c-500.service", "start agent-gateway@c-500.service"]);
    assert.equal(r.unhealthy, 4);
  }));

test("sweep: --max-restarts 0 only reports; a profile locked by another command is skipped, not waited for", () =>
  withWorld(async (w) => {
    await w.profile("x", 9200, "stopped");
    const none = await runSweep(w.ctx, { ...OPTS, restartUnhealthy: true, maxRestarts: 0 }, w.deps);
    assert.deepEqual(byName(none.profiles, "x").action, { kind: "skipped", reason: "--max-restarts 0 reached" });
    const lock = await acquireLock(w.ctx.paths.locksDir, "profile-x", "profiles set x", 0);
    try {
      const t0 = Date.now();
      const r = await runSweep(w.ctx, { ...OPTS, restartUnhealthy: true }, w.deps);
      assert.deepEqual(byName(r.profiles, "x").action, { kind: "skipped", reason: "another profiles command holds its lock" });
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      await lock.release();
    }
    assert.deepEqual(w.systemd.calls, []);
  }));

test("sweep: healthy marks the current generation known-good, unless the .env changed after the gateway started", () =>
  withWorld(async (w) => {
    await w.profile("p", 9200, "running");
    const pid = w.systemd.units.get(unitName("p"))!.mainPid;
    const file = envFile(w.ctx.paths, "p");
    await commitEnvText(w.ctx.paths, "p", "PORT=\"9200\"\nA=\"1\"\n", "set A");
    // The gateway started before the .env was written: what runs is generation 1, not 2.
    w.started.set(pid, (await fs.stat(file)).mtimeMs - 60_000);
    const r1 = await runSweep(w.ctx, OPTS, w.deps);
    const p1 = byName(r1.profiles, "p");
    assert.equal(p1.healthy, true);
    assert.equal(p1.drift?.pendingRestart, true);
    assert.equal(p1.markedKnownGood, null);
    assert.match(p1.notes.join("\n"), /changed after the gateway started/);
    assert.equal((await history(w.ctx.paths, "p")).generations.some((x) => x.knownGood), false);
    // Restarted since (its process is newer than the file): now it is known-good.
    w.started.set(pid, Date.now() + 1000);
    const r2 = await runSweep(w.ctx, OPTS, w.deps);
    assert.equal(byName(r2.profiles, "p").markedKnownGood, 2);
    // The file drifts from known-good 2: reported, and after a healthy sweep, marked again.
    await commitEnvText(w.ctx.paths, "p", "PORT=\"9200\"\nA=\"2\"\n", "set A");
    w.started.set(pid, Date.now() + 1000);
    const r3 = await runSweep(w.ctx, OPTS, w.deps);
    const p3 = byName(r3.profiles, "p");
    assert.deepEqual(p3.drift, { current: 3, knownGood: 2, drifted: true, pendingRestart: false });
    assert.equal(p3.markedKnownGood, 3);
  }));

test("sweep: textfile parses as Prometheus text; webhook only when unhealthy, and a failed POST does not change the verdicts", () =>
  withWorld(async (w) => {
    await w.profile("ok1", 9200, "running");
    const textfile = path.join(w.home, "ap.prom");
    const r = await runSweep(w.ctx, { ...OPTS, textfile, webhook: "https://hooks.example.com/services/T0/B0/s3cr3t" }, w.deps);
    assert.equal(r.unhealthy, 0);
    assert.equal(w.posts.length, 0);
    assert.equal(r.webhook, null);
    const fams = parsePromText(await fs.readFile(textfile, "utf8"));
    assert.equal(sampleValue(fams, "agent_profiles_healthy", { profile: "ok1" }), 1);
    assert.equal(fams.get("agent_profiles_restarts_total")?.type, "counter");
    assert.equal(((await fs.stat(textfile)).mode & 0o777), 0o644);

    await w.profile("dead", 9201, "stopped");
    w.setPost((url) => ({ url: redactUrl(url), sent: false, status: null, error: "ECONNREFUSED" }));
    const r2 = await runSweep(w.ctx, { ...OPTS, textfile, webhook: "https://hooks.example.com/services/T0/B0/s3cr3t" }, w.deps);
    assert.equal(w.posts.length, 1);
    const body = w.posts[0]!.body as { unhealthy: { name: string }[]; total: number; text: string };
    assert.deepEqual(body.unhealthy.map((u) => u.name), ["dead"]);
    assert.equal(body.total, 2);
    assert.deepEqual(r2.webhook, { url: "https://hooks.example.com/…", sent: false, status: null, error: "ECONNREFUSED" });
    assert.equal(r2.unhealthy, 1);
    // No secret in anything the sweep writes.
    const all = (await fs.readFile(reportFile(w.ctx.paths), "utf8")) + (await fs.readFile(textfile, "utf8")) + JSON.stringify(r2);
    assert.doesNotMatch(all, /s3cr3t/);
    const fams2 = parsePromText(await fs.readFile(textfile, "utf8"));
    assert.equal(sampleValue(fams2, "agent_profiles_up", { profile: "dead" }), 0);
    assert.equal(sampleValue(fams2, "agent_profiles_sweep_unhealthy"), 1);
  }));

test("sweep command: bad flags are usage errors that write nothing; --print-cron prints and touches nothing", () =>
  withWorld(async (w) => {
    await w.profile("p", 9200, "stopped");
    const before = await snapshot(w.home);
    const args = { ...g, restartUnhealthy: true, maxRestarts: "3", wait: 30, printCron: false };
    for (const bad of [
      { maxRestarts: "-1" },
      { maxRestarts: "1.5" },
      { maxRestarts: "101" },
      { wait: 0 },
      { textfile: path.join(w.home, "metrics.txt") },
      { textfile: path.join(w.home, "no/such/dir/x.prom") },
      { webhook: "ftp://example.com/x" },
      { webhook: "not a url" },
    ]) {
      await assert.rejects(sweep.run({ ...args, ...bad }, w.ctx), (e: unknown) => e instanceof AppError && e.exitCode === ExitCode.usage, JSON.stringify(bad));
    }
    const cron = await sweep.run({ ...args, printCron: true, maxRestarts: "2" }, w.ctx);
    const line = (cron.data as { cron: string }).cron;
    assert.match(line, /^\d{1,2} 3 \* \* \* XDG_RUNTIME_DIR=\S+ DBUS_SESSION_BUS_ADDRESS=\S+ /);
    assert.ok(line.includes(` ${process.execPath} `), line);
    assert.match(line, /\/dist\/src\/cli\.cjs sweep --restart-unhealthy --max-restarts 2 >\/dev\/null$/);
    assert.deepEqual(await snapshot(w.home), before);
    assert.deepEqual(w.systemd.calls, []);
  }));

test("health command: verdicts with reasons, exit 7 unless all healthy, unknown names exit 3", () =>
  withWorld(async (w) => {
    await w.profile("fine", 9200, "running");
    await w.profile("hung", 9201, "running");
    w.prober.verdicts.set(9201, { ok: false, reason: "timeout after 2000 ms", latencyMs: 2000 });
    await w.profile("crashy", 9202, "restarting", { nRestarts: 2 });
    const all = await health.run({ ...g }, w.ctx);
    assert.equal(all.exitCode, ExitCode.unhealthy);
    const rows = all.data as { name: string; healthy: boolean; problems: string[] }[];
    assert.deepEqual(rows.map((r) => [r.name, r.healthy, r.problems[0] ?? null]), [
      ["crashy", false, "unit restarting after a crash (2 restarts, last exited with status 1)"],
      ["fine", true, null],
      ["hung", false, "probe timeout after 2000 ms"],
    ]);
    const one = await health.run({ ...g, names: ["fine"] }, w.ctx);
    assert.equal(one.exitCode, ExitCode.ok);
    await assert.rejects(health.run({ ...g, names: ["fine", "nosuch"] }, w.ctx), (e: unknown) => e instanceof AppError && e.exitCode === ExitCode.notFound);
    await assert.rejects(health.run({ ...g, names: ["Bad/Name"] }, w.ctx), (e: unknown) => e instanceof AppError && e.exitCode === ExitCode.usage);
  }));

test("health: a profile.ini override switches the probe to TCP and its own path; a bad one is that profile's verdict", () =>
  withWorld(async (w) => {
    await w.profile("raw", 9200, "running");
    await w.profile("custom", 9201, "running");
    await w.profile("broken", 9202, "running");
    const dir = (n: string) => path.dirname(envFile(w.ctx.paths, n));
    await fs.writeFile(path.join(dir("raw"), "profile.ini"), "[gateway]\nprobe = tcp\n");
    await fs.writeFile(path.join(dir("custom"), "profile.ini"), "[gateway]\nhealth_path = /healthz\nprobe_timeout_ms = 750\n");
    await fs.writeFile(path.join(dir("broken"), "profile.ini"), "[gateway]\nprobe = udp\n");
    const r = await health.run({ ...g }, w.ctx);
    const rows = r.data as { name: string; healthy: boolean; problems: string[]; probe: { kind: string; target: string } | null }[];
    assert.deepEqual(rows.find((x) => x.name === "raw")?.probe?.target, "tcp 127.0.0.1:9200");
    assert.deepEqual(rows.find((x) => x.name === "custom")?.probe?.target, "http://127.0.0.1:9201/healthz");
    assert.ok(w.prober.seen.some((t) => t.port === 9201 && t.timeoutMs === 750));
    const broken = rows.find((x) => x.name === "broken")!;
    assert.equal(broken.healthy, false);
    assert.match(broken.problems.join(), /profile\.ini: gateway\.probe: must be one of http, tcp/);
    assert.equal(r.exitCode, ExitCode.unhealthy);
  }));

test("start waits on the probe a profile.ini asks for (bringUp applies it, whoever built the target)", () =>
  withWorld(async (w) => {
    await w.profile("raw", 9200, "stopped");
    await fs.writeFile(path.join(path.dirname(envFile(w.ctx.paths, "raw")), "profile.ini"), "[gateway]\nprobe = tcp\nprobe_timeout_ms = 900\n");
    const r = await start.run({ ...g, names: ["raw"], wait: 5 }, w.ctx);
    assert.equal(r.exitCode, ExitCode.ok);
    assert.deepEqual(w.prober.seen.map((t) => [t.kind, t.port, t.timeoutMs]), [["tcp", 9200, 900]]);
    // A broken profile.ini stops the start before the manager is asked anything.
    await fs.writeFile(path.join(path.dirname(envFile(w.ctx.paths, "raw")), "profile.ini"), "[gateway]\nprobe_path = /x\n");
    const calls = w.systemd.calls.length;
    const bad = await start.run({ ...g, names: ["raw"], wait: 5 }, w.ctx);
    assert.equal(bad.exitCode, ExitCode.unhealthy);
    assert.match(JSON.stringify(bad.data), /profile\.ini: gateway\.probe_path: unknown key \(known: probe, health_path, probe_timeout_ms\)/);
    assert.equal(w.systemd.calls.length, calls);
  }));

test("sweep: a .env that is a symlink to nothing, or a loop, is that profile's problem; every other profile is still swept", () =>
  withWorld(async (w) => {
    await w.profile("good", 9210, "running");
    await w.profile("gone", 9211, "running");
    await w.profile("loop", 9212, "running");
    const gone = envFile(w.ctx.paths, "gone");
    await fs.rm(gone);
    await fs.symlink("../../dotfiles/gone.env", gone);
    const loop = envFile(w.ctx.paths, "loop");
    await fs.rm(loop);
    await fs.symlink(".env", loop);
    const r = await runSweep(w.ctx, OPTS, w.deps);
    assert.deepEqual(r.profiles.map((p) => [p.name, p.healthy]), [["gone", false], ["good", true], ["loop", false]]);
    assert.match(byName(r.profiles, "gone").problems.join("\n"), /\.env: is a symlink to \.\.\/\.\.\/dotfiles\/gone\.env that leads to no file/);
    assert.match(byName(r.profiles, "loop").problems.join("\n"), /\.env: is a symlink to \.env that loops back on itself/);
  }));

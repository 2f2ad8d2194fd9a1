import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { snapshot } from "../helpers/fakes.js";
import { parsePromText, sampleValue } from "../helpers/prom-text.js";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only: 18780-18819.
const RANGE = "18780-18818";
const WEBHOOK_PORT = 18819;
const PORTS = { crash: 18780, e500: 18781, foreign: 18782, good: 18783, hang: 18784, recover: 18785, stopped: 18786, tcponly: 18787 } as const;
type Name = keyof typeof PORTS;

let sb: Sandbox;
let stateDir: string;
let failFile: string;

interface Verdict {
  name: string;
  healthy: boolean;
  condition: string;
  problems: string[];
  mainPid: number | null;
  probe: { kind: string; ok: boolean; reason: string } | null;
}
interface SweepProfileOut extends Verdict {
  portHolder: { status: string; pid?: number | null; holder?: string } | null;
  restartsSinceLastSweep: number;
  action: { kind: string; ok?: boolean; reason?: string; error?: string | null } | null;
}
interface SweepOut {
  total: number;
  healthy: number;
  unhealthy: number;
  restartAttempts: number;
  profiles: SweepProfileOut[];
  webhook: { url: string; sent: boolean; error: string | null } | null;
  textfile: { path: string; written: boolean } | null;
}

const profiles = (args: string[], timeoutMs = 60_000) => sb.profiles(args, { timeoutMs });
const json = <T>(r: { stdout: string }): T => JSON.parse(r.stdout) as T;
const byName = <T extends { name: string }>(rows: T[]): Record<string, T> => Object.fromEntries(rows.map((r) => [r.name, r]));

async function asUser(script: string, ...args: string[]): Promise<string> {
  const r = await sb.exec("sh", ["-c", script, "sh", ...args]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

async function reportLines(): Promise<SweepOut[]> {
  const text = await fs.readFile(path.join(stateDir, "sweeps.jsonl"), "utf8").catch(() => "");
  return text.trim() === "" ? [] : text.trim().split("\n").map((l) => JSON.parse(l) as SweepOut);
}

/** Hold a profile's port from this (root) process: a foreign listener the sandbox user cannot even name. */
async function holdPort(port: number): Promise<net.Server> {
  const s = net.createServer((c) => c.destroy());
  s.listen(port, "127.0.0.1");
  await once(s, "listening");
  return s;
}

/** A crash loop ends at the start limit faster with a short RestartSec (a drop-in for this instance only). */
async function fastRestarts(name: Name): Promise<void> {
  await asUser('mkdir -p "$1" && printf "[Service]\\nRestartSec=100ms\\n" > "$1/fast.conf"', path.join(sb.home, `.config/systemd/user/agent-gateway@${name}.service.d`));
}

before(async () => {
  sb = await startSandbox();
  stateDir = path.join(sb.home, ".local/state/agent-profiles");
  failFile = path.join(sb.home, "recover.fail");
  const gateway = path.join(sb.appDir, "dist/test/fixtures/sweep-gateway.js");
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--exec", `node ${gateway}`, "--probe-timeout", "500"]);
  assert.equal(init.code, 0, init.stderr);
  await asUser('mkdir -p "$1/metrics" && touch "$2"', sb.home, failFile);

  const add = async (name: Name, env: string[], start: boolean) => {
    const r = await profiles(["add", name, "--port", String(PORTS[name]), ...env.flatMap((e) => ["--env", e]), ...(start ? [] : ["--no-start"])]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  };
  await add("good", [], true);
  await add("stopped", [], true);
  await add("foreign", [], true);
  for (const n of ["stopped", "foreign"]) assert.equal((await profiles(["stop", n])).code, 0);
  // A gateway that speaks no HTTP: healthy for the TCP probe its profile.ini asks for.
  await add("tcponly", ["MODE=tcp"], false);
  await asUser('printf "[gateway]\\nprobe = tcp\\n" > "$1"', path.join(sb.home, ".config/agent-profiles/profiles/tcponly/profile.ini"));
  assert.equal((await profiles(["start", "tcponly"])).code, 0);
  await add("e500", ["MODE=500"], false);
  await add("hang", ["MODE=hang"], false);
  await add("crash", ["MODE=exit"], false);
  await add("recover", ["MODE=fail-if-file", `FAIL_FILE=${failFile}`], false);
  await fastRestarts("crash");
  await fastRestarts("recover");
  // One enable for all four, before any starts: each enable reloads the manager, and a reload resets a
  // looping unit's start-limit count (NRestarts then passes 5).
  const units = ["e500", "hang", "crash", "recover"].map((n) => `agent-gateway@${n}.service`);
  await asUser('systemctl --user daemon-reload && systemctl --user enable "$@" 2>/dev/null && systemctl --user start "$@"', ...units);
  for (const n of ["crash", "recover"]) {
    await waitForUnit(sb, `agent-gateway@${n}.service`, ["ActiveState", "NRestarts"], (p) => p.ActiveState === "failed" && p.NRestarts === "5");
  }
});

after(async () => {
  await sb?.stop();
});

test("health: the verdict and reason of each profile, exit 7 unless all are healthy", async () => {
  const server = await holdPort(PORTS.foreign);
  try {
    const t0 = Date.now();
    const r = await profiles(["health", "--json"]);
    const ms = Date.now() - t0;
    assert.equal(r.code, 7, r.stderr);
    const v = byName(json<Verdict[]>(r));
    assert.equal(v.good!.healthy, true);
    assert.deepEqual([v.tcponly!.probe?.kind, v.tcponly!.probe?.ok], ["tcp", true]);
    assert.deepEqual(v.stopped!.problems, ["unit not active (stopped)"]);
    assert.equal(v.crash!.condition, "start-limit-hit");
    assert.match(v.crash!.problems[0]!, /^unit hit its start limit: restarted 5 times, last exited with status 1$/);
    assert.deepEqual(v.e500!.problems, ["probe status 500"]);
    assert.deepEqual(v.hang!.problems, ["probe timeout after 500 ms"]);
    assert.equal(v.foreign!.healthy, false);
    // Probes run side by side: eight profiles, one 500 ms timeout among them, well under a serial run.
    assert.ok(ms < 5000, `health took ${ms} ms`);
    const text = await profiles(["health"]);
    assert.equal(text.code, 7);
    assert.match(text.stdout, /^e500 +18781 +running +http status 500 .*UNHEALTHY: probe status 500$/m);
    assert.match(text.stdout, /^good +18783 +running +http ok .* healthy$/m);
    const some = await profiles(["health", "good", "tcponly"]);
    assert.equal(some.code, 0, some.stdout + some.stderr);
  } finally {
    server.close();
  }
});

test("bad input to health and sweep: exit 2 or 3 with the rule, nothing written", async () => {
  const config = path.join(sb.home, ".config");
  const beforeState = { ...(await snapshot(config)), ...(await snapshot(stateDir)) };
  const cases: [string[], number, RegExp][] = [
    [["health", "nosuch"], 3, /profile "nosuch" does not exist/],
    [["health", "Bad!"], 2, /1-32 characters/],
    [["sweep", "--max-restarts", "x"], 2, /--max-restarts "x" must be a whole number from 0 to 100/],
    [["sweep", "--textfile", "/nonexistent/dir/a.prom"], 2, /directory \/nonexistent\/dir does not exist/],
    [["sweep", "--textfile", path.join(sb.home, "metrics/a.txt")], 2, /must end in \.prom/],
    [["sweep", "--webhook", "ftp://example.com/x"], 2, /--webhook must be an http:\/\/ or https:\/\/ URL/],
    [["sweep", "--wait", "0"], 2, /--wait/],
  ];
  for (const [args, code, why] of cases) {
    const r = await profiles(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
  assert.deepEqual({ ...(await snapshot(config)), ...(await snapshot(stateDir)) }, beforeState);
});

test("sweep: verdicts, port owners, restarts, a Prometheus textfile and a webhook; a failed POST is reported", async () => {
  const posts: { url: string; body: Record<string, unknown> }[] = [];
  const hook = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      posts.push({ url: req.url ?? "", body: JSON.parse(body) as Record<string, unknown> });
      res.statusCode = 204;
      res.end();
    });
  });
  hook.listen(WEBHOOK_PORT, "127.0.0.1");
  await once(hook, "listening");
  const foreign = await holdPort(PORTS.foreign);
  const textfile = path.join(sb.home, "metrics/agent_profiles.prom");
  let out: SweepOut;
  try {
    const before = (await reportLines()).length;
    const r = await profiles(["sweep", "--json", "--textfile", textfile, "--webhook", `http://127.0.0.1:${WEBHOOK_PORT}/hook/s3cr3t`]);
    assert.equal(r.code, 7, r.stderr);
    out = json<SweepOut>(r);
    assert.deepEqual([out.total, out.healthy, out.unhealthy, out.restartAttempts], [8, 2, 6, 0]);
    const p = byName(out.profiles);
    assert.deepEqual(p.good!.portHolder, { status: "own", pid: p.good!.mainPid });
    assert.equal(p.tcponly!.portHolder?.status, "own");
    assert.deepEqual(p.foreign!.portHolder, { status: "foreign", pid: null, holder: "another process (not visible to this user)" });
    assert.match(p.foreign!.problems.join("; "), /port 18782 is held by another process \(not visible to this user\), not by agent-gateway@foreign\.service/);
    assert.equal(p.stopped!.portHolder?.status, "free");
    assert.equal(p.crash!.condition, "start-limit-hit");
    assert.equal(p.crash!.restartsSinceLastSweep, 5);
    assert.equal(p.e500!.portHolder?.status, "own");
    // The report line, the webhook and the textfile.
    const lines = await reportLines();
    assert.equal(lines.length, before + 1);
    assert.deepEqual(lines.at(-1)!.profiles.map((x) => [x.name, x.healthy]), out.profiles.map((x) => [x.name, x.healthy]));
    assert.equal(posts.length, 1);
    assert.equal(posts[0]!.url, "/hook/s3cr3t");
    assert.deepEqual((posts[0]!.body.unhealthy as { name: string }[]).map((u) => u.name), ["crash", "e500", "foreign", "hang", "recover", "stopped"]);
    assert.deepEqual(out.webhook, { url: `http://127.0.0.1:${WEBHOOK_PORT}/…`, sent: true, status: 204, error: null });
    const metrics = await fs.readFile(textfile, "utf8");
    // Checked by a real consumer: Prometheus's promtool (scripts/ensure-packages.sh installs it).
    const check = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" });
    assert.equal(check.error, undefined, `promtool cannot run (${check.error?.message}): run \`bash scripts/ensure-packages.sh\``);
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), "", "promtool's lint has nothing to say");
    const fams = parsePromText(metrics);
    assert.equal(sampleValue(fams, "agent_profiles_healthy", { profile: "good" }), 1);
    assert.equal(sampleValue(fams, "agent_profiles_up", { profile: "stopped" }), 0);
    assert.equal(sampleValue(fams, "agent_profiles_start_limit_hit", { profile: "crash" }), 1);
    assert.equal(sampleValue(fams, "agent_profiles_restarts_total", { profile: "crash" }), 5);
    assert.equal(sampleValue(fams, "agent_profiles_port_foreign", { profile: "foreign" }), 1);
    assert.ok(sampleValue(fams, "agent_profiles_probe_duration_seconds", { profile: "good" })! > 0);
    assert.equal(sampleValue(fams, "agent_profiles_sweep_unhealthy"), 6);
    assert.ok(Math.abs(sampleValue(fams, "agent_profiles_sweep_timestamp_seconds")! - Date.now() / 1000) < 60);
    assert.equal((await fs.stat(textfile)).uid, sb.uid);
    // The webhook's token appears nowhere the sweep writes.
    const written = r.stdout + r.stderr + (await fs.readFile(path.join(stateDir, "sweeps.jsonl"), "utf8")) + (await fs.readFile(textfile, "utf8"));
    assert.doesNotMatch(written, /s3cr3t/);
  } finally {
    foreign.close();
    hook.close();
  }
  // Nobody listens on the webhook now: the POST fails, is reported, and the verdicts stand.
  const failed = await profiles(["sweep", "--json", "--webhook", `http://127.0.0.1:${WEBHOOK_PORT}/hook`]);
  assert.equal(failed.code, 7);
  assert.match(failed.stderr, /webhook POST to http:\/\/127\.0\.0\.1:18819\/… failed: ECONNREFUSED/);
  const f = json<SweepOut>(failed);
  // foreign's port is free again, but its unit is still stopped: the same six are unhealthy.
  assert.deepEqual([f.webhook?.sent, f.webhook?.error, f.unhealthy], [false, "ECONNREFUSED", 6]);
  assert.equal(byName(f.profiles).foreign!.portHolder?.status, "free");
  // Restarts are counted once.
  assert.equal(byName(f.profiles).crash!.restartsSinceLastSweep, 0);
});

test("sweep --restart-unhealthy brings back what can come back, within --max-restarts", async (t) => {
  const foreign = await holdPort(PORTS.foreign);
  try {
    const one = await profiles(["sweep", "--restart-unhealthy", "--max-restarts", "1", "--wait", "3", "--json"]);
    assert.equal(one.code, 7, one.stderr);
    const o = json<SweepOut>(one);
    assert.equal(o.restartAttempts, 1);
    const p = byName(o.profiles);
    assert.deepEqual([p.crash!.action?.kind, p.crash!.action?.ok], ["start", false]);
    assert.deepEqual(p.foreign!.action, { kind: "skipped", reason: "its port is held by another process (not visible to this user): a restart cannot help" });
    for (const n of ["e500", "hang", "recover", "stopped"]) assert.deepEqual(p[n]!.action, { kind: "skipped", reason: "--max-restarts 1 reached" }, n);
  } finally {
    foreign.close();
  }
  // The cause of recover's crash loop is gone now, and so is the foreign listener.
  await fs.rm(failFile);
  const t0 = Date.now();
  const r = await profiles(["sweep", "--restart-unhealthy", "--max-restarts", "6", "--wait", "3", "--json"], 120_000);
  const ms = Date.now() - t0;
  assert.equal(r.code, 7, r.stderr);
  const out = json<SweepOut>(r);
  assert.equal(out.restartAttempts, 6);
  const p = byName(out.profiles);
  for (const n of ["foreign", "recover", "stopped"]) {
    assert.equal(p[n]!.healthy, true, `${n}: ${JSON.stringify(p[n])}`);
    assert.deepEqual([p[n]!.action?.kind, p[n]!.action?.ok], ["start", true], n);
  }
  for (const n of ["crash", "e500", "hang"]) assert.deepEqual([p[n]!.healthy, p[n]!.action?.ok], [false, false], n);
  assert.deepEqual([p.e500!.action?.kind, p.hang!.action?.kind], ["restart", "restart"]);
  assert.equal(p.good!.action, null);
  assert.deepEqual([out.healthy, out.unhealthy], [5, 3]);
  const h = await profiles(["health", "foreign", "recover", "stopped", "good", "tcponly"]);
  assert.equal(h.code, 0, h.stdout);
  t.diagnostic(`sweep with 6 restarts (3 of them waiting out --wait 3) took ${ms} ms`);
});

test("the timer is installed with a next elapse; starting its service by hand runs a sweep that writes its report line", async () => {
  const timer = await showUnit(sb, "agent-profiles-sweep.timer", ["ActiveState", "UnitFileState"]);
  assert.deepEqual(timer, { ActiveState: "active", UnitFileState: "enabled" });
  // The property in microseconds, straight from the manager (systemctl show prints it as local time).
  const raw = await asUser(
    "busctl --user get-property org.freedesktop.systemd1 /org/freedesktop/systemd1/unit/agent_2dprofiles_2dsweep_2etimer org.freedesktop.systemd1.Timer NextElapseUSecRealtime",
  );
  const next = Number(/^t (\d+)$/.exec(raw.trim())?.[1]) / 1000;
  // Tonight at 03:00 plus up to an hour of randomized delay: within the next 25 hours.
  assert.ok(next > Date.now() && next < Date.now() + 25 * 3600_000, `next elapse ${raw}`);
  // What cannot come back goes, so the hand-run sweep has nothing to wait for and must find all healthy.
  for (const n of ["crash", "e500", "hang"]) assert.equal((await profiles(["remove", n, "--purge"])).code, 0);
  const before = (await reportLines()).length;
  const run = await sb.exec("systemctl", ["--user", "start", "agent-profiles-sweep.service"], { timeoutMs: 120_000 });
  assert.equal(run.code, 0, run.stderr);
  const lines = await reportLines();
  assert.equal(lines.length, before + 1);
  assert.deepEqual([lines.at(-1)!.total, lines.at(-1)!.healthy], [5, 5]);
  const svc = await showUnit(sb, "agent-profiles-sweep.service", ["Result", "ExecMainStatus"]);
  assert.deepEqual(svc, { Result: "success", ExecMainStatus: "0" });
  const all = await profiles(["sweep"]);
  assert.equal(all.code, 0, all.stdout + all.stderr);
  assert.match(all.stdout, /^5 of 5 healthy, 0 restart\(s\) attempted/m);
});

test("init --no-sweep removes the timer; --print-cron's line runs a sweep from an empty environment", async () => {
  const off = await profiles(["init", "--no-sweep"]);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /nightly sweep: off \(agent-profiles-sweep\.timer stopped, disabled and removed\)/);
  assert.equal((await showUnit(sb, "agent-profiles-sweep.timer", ["LoadState"])).LoadState, "not-found");
  await assert.rejects(fs.access(path.join(sb.home, ".config/systemd/user/agent-profiles-sweep.service")));

  const cron = await profiles(["sweep", "--print-cron", "--max-restarts", "2"]);
  assert.equal(cron.code, 0, cron.stderr);
  const m = /^(\d+) 3 \* \* \* (.+)$/.exec(cron.stdout.trim());
  assert.ok(m, cron.stdout);
  // What cron would run: /bin/sh -c with % unescaped, and nothing of this shell's environment but HOME.
  const command = m[2]!.replace(/\\%/g, "%");
  const before = (await reportLines()).length;
  const r = await sb.exec("env", ["-i", `HOME=${sb.home}`, "/bin/sh", "-c", command]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await reportLines()).length, before + 1);

  const on = await profiles(["init", "--sweep"]);
  assert.equal(on.code, 0, on.stderr);
  assert.equal((await showUnit(sb, "agent-profiles-sweep.timer", ["ActiveState"])).ActiveState, "active");
});

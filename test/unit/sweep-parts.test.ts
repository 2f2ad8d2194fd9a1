import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs/promises";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { test } from "node:test";
import init from "../../src/commands/init.js";
import { DEFAULT_CONFIG, loadConfig, saveConfig } from "../../src/config.js";
import { createContext } from "../../src/core/context.js";
import { mapLimit } from "../../src/core/sweep/pool.js";
import { appendReport, reportFile } from "../../src/core/sweep/report-file.js";
import { cronLine } from "../../src/core/sweep/schedule.js";
import { restartsSince } from "../../src/core/sweep/state.js";
import { renderMetrics } from "../../src/core/sweep/textfile.js";
import type { SweepProfile, SweepResult } from "../../src/core/sweep/types.js";
import { readStartLimits, unitCondition, DEFAULT_START_LIMITS } from "../../src/core/sweep/unit-condition.js";
import { postWebhook, redactUrl } from "../../src/core/sweep/webhook.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { tcpProbe } from "../../src/probe/tcp.js";
import type { UnitState } from "../../src/systemd/types.js";
import { fakeWorld, FakeSystemd, snapshot } from "../helpers/fakes.js";
import { parsePromText, sampleValue } from "../helpers/prom-text.js";

const unit = (over: Partial<UnitState>): UnitState => ({
  name: "agent-gateway@x.service", loadState: "loaded", activeState: "inactive", subState: "dead", mainPid: 0, nRestarts: 0,
  result: "success", execMainStatus: 0, execMainCode: 0, ...over,
});

test("unitCondition: start-limit-hit by result, or failed after `burst` restarts whose last exit would restart again", () => {
  const L = { burst: 5, preventExitStatus: [78] };
  assert.equal(unitCondition(undefined, L), "stopped");
  assert.equal(unitCondition(unit({ activeState: "active", subState: "running" }), L), "running");
  assert.equal(unitCondition(unit({ activeState: "activating", subState: "auto-restart" }), L), "restarting");
  assert.equal(unitCondition(unit({ activeState: "activating", subState: "start" }), L), "starting");
  assert.equal(unitCondition(unit({ activeState: "failed", result: "start-limit-hit" }), L), "start-limit-hit");
  // What systemd 252 really reports after the 5th automatic restart failed (checked on the sandbox manager).
  assert.equal(unitCondition(unit({ activeState: "failed", result: "exit-code", nRestarts: 5, execMainCode: 1, execMainStatus: 1 }), L), "start-limit-hit");
  assert.equal(unitCondition(unit({ activeState: "failed", result: "exit-code", nRestarts: 1, execMainCode: 1, execMainStatus: 1 }), L), "failed");
  // Exit 78 is never restarted (RestartPreventExitStatus): failed, however many restarts came before.
  assert.equal(unitCondition(unit({ activeState: "failed", result: "exit-code", nRestarts: 7, execMainCode: 1, execMainStatus: 78 }), L), "failed");
});

test("readStartLimits: from the installed template, systemd's defaults without one", async () => {
  const w = await fakeWorld();
  try {
    assert.deepEqual(await readStartLimits(w.ctx.paths), DEFAULT_START_LIMITS);
    await fs.mkdir(w.ctx.paths.unitDir, { recursive: true });
    await fs.writeFile(path.join(w.ctx.paths.unitDir, "agent-gateway@.service"), "[Unit]\nStartLimitBurst=3\n[Service]\nRestartPreventExitStatus=78 SIGKILL 99\n");
    assert.deepEqual(await readStartLimits(w.ctx.paths), { burst: 3, preventExitStatus: [78, 99] });
  } finally {
    await w.cleanup();
  }
});

test("restartsSince: growth since the last sweep; a counter that went down (reset, manual start) is all new", () => {
  assert.equal(restartsSince(undefined, 4), 4);
  assert.equal(restartsSince({ nRestarts: 2, restartsTotal: 9 }, 5), 3);
  assert.equal(restartsSince({ nRestarts: 5, restartsTotal: 9 }, 1), 1);
});

test("mapLimit keeps order and never has more than `limit` calls in flight", async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapLimit([...Array(40).keys()], 16, async (i) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    return i * 2;
  });
  assert.deepEqual(out, [...Array(40).keys()].map((i) => i * 2));
  assert.equal(peak, 16);
});

test("appendReport: one line per sweep, rotated to .1 past the size limit", async () => {
  const w = await fakeWorld();
  try {
    for (let i = 0; i < 5; i++) await appendReport(w.ctx.paths, { i, pad: "x".repeat(100) }, 300);
    const file = reportFile(w.ctx.paths);
    const now = (await fs.readFile(file, "utf8")).trim().split("\n").map((l) => JSON.parse(l).i);
    const old = (await fs.readFile(`${file}.1`, "utf8")).trim().split("\n").map((l) => JSON.parse(l).i);
    assert.deepEqual(old, [2, 3]);
    assert.deepEqual(now, [4]);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  } finally {
    await w.cleanup();
  }
});

function profile(over: Partial<SweepProfile>): SweepProfile {
  return {
    name: "p", unit: "agent-gateway@p.service", port: 9000, enabled: true, disabled: false, condition: "running", activeState: "active", subState: "running", result: "success",
    mainPid: 10, nRestarts: 0, probe: { kind: "http", target: "http://127.0.0.1:9000/health", ok: true, reason: "ok", status: 200, latencyMs: 2.5 },
    healthy: true, problems: [], brokenConfig: null, portHolder: { status: "own", pid: 10 }, restartsSinceLastSweep: 0, restartsTotal: 0,
    drift: { current: 1, knownGood: 1, drifted: false, pendingRestart: false }, before: null, action: null, markedKnownGood: 1, notes: [], ...over,
  };
}

test("renderMetrics: a strict parse finds every family, typed, with the values of the sweep", () => {
  const r: SweepResult = {
    time: "2026-01-02T03:04:05.000Z", durationMs: 1234, host: "h", total: 2, healthy: 1, unhealthy: 1, disabled: 0, restartAttempts: 1,
    profiles: [
      profile({ name: "ok" }),
      profile({ name: "down_1", condition: "start-limit-hit", healthy: false, probe: null, nRestarts: 5, restartsTotal: 12, portHolder: { status: "foreign", pid: null, holder: "x" }, drift: null }),
    ],
    report: null, textfile: null, webhook: null,
  };
  const fams = parsePromText(renderMetrics(r));
  assert.equal(sampleValue(fams, "agent_profiles_up", { profile: "ok" }), 1);
  assert.equal(sampleValue(fams, "agent_profiles_up", { profile: "down_1" }), 0);
  assert.equal(sampleValue(fams, "agent_profiles_start_limit_hit", { profile: "down_1" }), 1);
  assert.equal(sampleValue(fams, "agent_profiles_restarts_total", { profile: "down_1" }), 12);
  assert.equal(sampleValue(fams, "agent_profiles_probe_duration_seconds", { profile: "ok" }), 0.0025);
  // Not probed, no drift known: no sample rather than a made-up 0.
  assert.equal(sampleValue(fams, "agent_profiles_probe_duration_seconds", { profile: "down_1" }), undefined);
  assert.equal(sampleValue(fams, "agent_profiles_drift", { profile: "down_1" }), undefined);
  assert.equal(sampleValue(fams, "agent_profiles_port_foreign", { profile: "down_1" }), 1);
  assert.equal(sampleValue(fams, "agent_profiles_sweep_duration_seconds"), 1.234);
  assert.equal(sampleValue(fams, "agent_profiles_sweep_timestamp_seconds"), Date.parse(r.time) / 1000);
  assert.equal(fams.get("agent_profiles_restarts_total")?.type, "counter");
  for (const f of fams.values()) {
    assert.ok(f.help && f.help.length > 10, `${f.name} has HELP`);
    assert.notEqual(f.type, "untyped", `${f.name} has TYPE`);
  }
});

test("the Prometheus text parser is strict: it rejects what the format does not allow", () => {
  const ok = '# HELP a_b An "x" \\\\ y\n# TYPE a_b gauge\na_b{l="q\\"\\n\\\\",m="2",} 1.5e3 1700000000000\na_b 0\n# plain comment\nc +Inf\nd NaN\n';
  const fams = parsePromText(ok);
  assert.equal(sampleValue(fams, "a_b", { l: 'q"\n\\', m: "2" }), 1500);
  assert.equal(sampleValue(fams, "c"), Infinity);
  assert.ok(Number.isNaN(sampleValue(fams, "d")));
  const bad: [string, RegExp][] = [
    ["a 1", /end with a newline/],
    ["1a 1\n", /must start with a metric name/],
    ["a{l=1} 1\n", /double-quoted/],
    ['a{l="1} 1\n', /unterminated/],
    ['a{l="\\t"} 1\n', /invalid escape/],
    ['a{l="1",l="2"} 1\n', /given twice/],
    ['a{__x="1"} 1\n', /reserved/],
    ["a one\n", /not a float/],
    ["a 1 2.5\n", /timestamp/],
    ["a 1\nb 1\na 2\n", /not in one group/],
    ["a 1\na 2\n", /given twice/],
    ["a 1\n# TYPE a gauge\n", /after its samples/],
    ["# TYPE a gauge\n# TYPE a counter\n", /second TYPE/],
    ["# TYPE a meter\n", /unknown type/],
    ["# HELP a x\n# HELP a y\n", /second HELP/],
    ["a{l=\"1\"}1\n", /blank before the value/],
  ];
  for (const [text, why] of bad) assert.throws(() => parsePromText(text), why, JSON.stringify(text));
  // Histogram series belong to their family.
  const h = parsePromText('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n');
  assert.equal(h.get("h")?.samples.length, 4);
});

test("cronLine: quoted for sh, % escaped for cron, the bus and XDG variables the CLI needs", () => {
  const line = cronLine({ USER: "liam", XDG_RUNTIME_DIR: "/run/user/1000", XDG_CONFIG_HOME: "/srv/50%/cfg", XDG_STATE_HOME: "relative/ignored" }, 1000, ["--textfile", "/var/lib/ne/it's.prom"]);
  const m = /^(\d+) 3 \* \* \* (.*) >\/dev\/null$/.exec(line);
  assert.ok(m, line);
  assert.ok(Number(m[1]) >= 0 && Number(m[1]) < 60);
  assert.match(m[2]!, /^XDG_RUNTIME_DIR=\/run\/user\/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=\/run\/user\/1000\/bus XDG_CONFIG_HOME=\/srv\/50\\%\/cfg /);
  assert.doesNotMatch(line, /XDG_STATE_HOME/);
  assert.ok(line.includes(`--textfile '/var/lib/ne/it'\\''s.prom'`), line);
  assert.equal(cronLine({ USER: "liam" }, 1000), cronLine({ USER: "liam" }, 1000));
});

test("postWebhook: 2xx is sent; a 500, a refused connection and a silent server are outcomes, not throws", async () => {
  const got: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push(`${req.method} ${req.url} ${req.headers["content-type"]} ${body}`);
      if (req.url === "/hang") return;
      res.statusCode = req.url === "/fail" ? 500 : 204;
      res.end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  try {
    assert.deepEqual(await postWebhook(`http://127.0.0.1:${port}/ok?token=s3cr3t`, { a: 1 }), { url: `http://127.0.0.1:${port}/…`, sent: true, status: 204, error: null });
    assert.equal(got[0], 'POST /ok?token=s3cr3t application/json {"a":1}');
    assert.deepEqual(await postWebhook(`http://127.0.0.1:${port}/fail`, {}), { url: `http://127.0.0.1:${port}/…`, sent: false, status: 500, error: "status 500" });
    const slow = await postWebhook(`http://127.0.0.1:${port}/hang`, {}, 200);
    assert.deepEqual([slow.sent, slow.error], [false, "no answer within 200 ms"]);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  // A port nothing listens on (a fresh one: fetch may still pool a socket to the server closed above).
  const gone = net.createServer();
  gone.listen(0, "127.0.0.1");
  await once(gone, "listening");
  const freePort = (gone.address() as AddressInfo).port;
  await new Promise((r) => gone.close(r));
  const refused = await postWebhook(`http://127.0.0.1:${freePort}/`, {});
  assert.deepEqual([refused.sent, refused.error], [false, "ECONNREFUSED"]);
  assert.equal(redactUrl("https://hooks.slack.com/services/T/B/xyz"), "https://hooks.slack.com/…");
  assert.equal(redactUrl("https://u:p@example.com:8443/"), "https://example.com:8443/");
});

test("tcpProbe: a listener is ok, a closed port is refused", async () => {
  const server = net.createServer((s) => s.end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const ok = await tcpProbe({ host: "127.0.0.1", port, path: "/", timeoutMs: 2000, kind: "tcp" });
  assert.deepEqual([ok.ok, ok.reason], [true, "ok"]);
  await new Promise((r) => server.close(r));
  const closed = await tcpProbe({ host: "127.0.0.1", port, path: "/", timeoutMs: 2000, kind: "tcp" });
  assert.deepEqual([closed.ok, closed.reason], [false, "refused"]);
});

test("config: probe kind and timeout round-trip; a bad one names its field", async () => {
  const w = await fakeWorld();
  try {
    const config = { ...DEFAULT_CONFIG, probe: "tcp" as const, probeTimeoutMs: 750, sweepTimer: false, sweepTextfile: "/x/y.prom", sweepWebhook: "https://h.example/k" };
    await saveConfig(w.ctx.paths, config);
    assert.deepEqual(await loadConfig(w.ctx.paths), config);
    for (const [line, field] of [["probe = udp", "gateway.probe"], ["probe_timeout_ms = 10", "gateway.probe_timeout_ms"]] as const) {
      await fs.writeFile(w.ctx.paths.configFile, `[gateway]\n${line}\n`);
      await assert.rejects(loadConfig(w.ctx.paths), (e: unknown) => e instanceof AppError && e.exitCode === ExitCode.badFile && e.message.includes(field));
    }
  } finally {
    await w.cleanup();
  }
});

test("init installs, enables and starts the sweep timer; --no-sweep stops, disables and removes it, and is remembered", async () => {
  const w = await fakeWorld();
  try {
    await fs.rm(w.ctx.paths.configFile);
    const sd = new FakeSystemd();
    const ctx = createContext({ env: w.ctx.env, json: true, systemd: async () => sd, progress: () => {} });
    const g = { json: true, verbose: false };
    const first = await init.run({ ...g }, ctx);
    const service = await fs.readFile(path.join(w.ctx.paths.unitDir, "agent-profiles-sweep.service"), "utf8");
    assert.match(service, new RegExp(`^ExecStart="${process.execPath}" ".*/dist/src/cli\\.cjs" "sweep" "--restart-unhealthy"$`, "m"));
    assert.match(service, /^Type=oneshot$/m);
    const timer = await fs.readFile(path.join(w.ctx.paths.unitDir, "agent-profiles-sweep.timer"), "utf8");
    for (const key of [/^OnCalendar=\S/m, /^Persistent=true$/m, /^RandomizedDelaySec=\S/m, /^WantedBy=timers\.target$/m]) assert.match(timer, key);
    assert.deepEqual(sd.calls, ["enable agent-profiles-sweep.timer", "start agent-profiles-sweep.timer"]);
    assert.equal((first.data as { sweep: { timer: boolean } }).sweep.timer, true);

    const off = await init.run({ ...g, sweep: false }, ctx);
    assert.deepEqual(sd.calls.slice(2), ["stop agent-profiles-sweep.timer", "disable agent-profiles-sweep.timer"]);
    assert.equal((off.data as { sweep: { removed: boolean } }).sweep.removed, true);
    await assert.rejects(fs.access(path.join(w.ctx.paths.unitDir, "agent-profiles-sweep.timer")));
    await assert.rejects(fs.access(path.join(w.ctx.paths.unitDir, "agent-profiles-sweep.service")));
    // Rerunning init keeps it off and asks the manager nothing about the timer.
    await init.run({ ...g, range: "9000-9010" }, ctx);
    assert.equal(sd.calls.length, 4);
    assert.equal((await loadConfig(w.ctx.paths)).sweepTimer, false);

    const before = await snapshot(w.home);
    for (const bad of [{ probe: "udp" }, { probeTimeout: "5" }, { probeTimeout: "soon" }, { sweepTextfile: "/tmp/x.txt" }, { sweepWebhook: "mailto:x@y" }]) {
      await assert.rejects(init.run({ ...g, ...bad }, ctx), (e: unknown) => e instanceof AppError && e.exitCode === ExitCode.usage, JSON.stringify(bad));
    }
    assert.deepEqual(await snapshot(w.home), before);
    // The webhook goes to config.ini (0600), and is shown only redacted.
    const on = await init.run({ ...g, sweep: true, sweepWebhook: "https://hooks.example.com/T/s3cr3t" }, ctx);
    assert.equal((on.data as { sweep: { webhook: string } }).sweep.webhook, "https://hooks.example.com/…");
    assert.doesNotMatch(JSON.stringify(on) + on.text, /s3cr3t/);
    assert.equal((await loadConfig(w.ctx.paths)).sweepWebhook, "https://hooks.example.com/T/s3cr3t");
    assert.equal((await fs.stat(w.ctx.paths.configFile)).mode & 0o777, 0o600);
  } finally {
    await w.cleanup();
  }
});

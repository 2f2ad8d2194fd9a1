/**
 * `profiles verify` against the real user manager: the reference gateway and a fixture in another style
 * pass; gateways that never answer health, ignore SIGTERM or cannot restart fail with the right row; and
 * every run leaves nothing behind (no profile, drop-in, log file or unit).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { spawnCli, startSandbox, userPaths, type Sandbox } from "../helpers/sandbox.js";

// Ports of this file only.
const RANGE = "19300-19319";

let sb: Sandbox;
let badGateway: string;

interface Row {
  check: string;
  outcome: "pass" | "fail" | "skip";
  ms: number | null;
  detail: string;
}

before(async () => {
  sb = await startSandbox();
  badGateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
});

after(async () => {
  await sb?.stop();
});

async function init(extra: string[] = []): Promise<void> {
  const r = await sb.profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep", ...extra]);
  assert.equal(r.code, 0, r.stderr);
}

/** `verify --json`: its exit code and rows by check, after checking that it left nothing behind. */
async function verify(args: string[]): Promise<{ code: number; rows: Map<string, Row>; stdout: string }> {
  const r = await sb.profiles(["verify", "--json", ...args], { timeoutMs: 180_000 });
  const out = JSON.parse(r.stdout) as { checks: Row[]; leftovers: string[]; profile: string; passed: boolean };
  assert.deepEqual(out.leftovers, []);
  assert.deepEqual(JSON.parse((await sb.profiles(["list", "--json"])).stdout), [], "the throwaway profile is gone");
  const unitDir = path.join(sb.home, ".config/systemd/user");
  assert.deepEqual((await fs.readdir(unitDir)).filter((f) => f.includes("verify-")), [], "its drop-in is gone");
  assert.deepEqual((await fs.readdir(path.join(sb.home, "logs")).catch(() => [])).filter((f) => f.startsWith("verify-")), [], "its log file is gone");
  assert.equal(out.passed, r.code === 0);
  return { code: r.code, rows: new Map(out.checks.map((c) => [c.check, c])), stdout: r.stdout };
}

function outcomes(rows: Map<string, Row>): Record<string, string> {
  return Object.fromEntries([...rows].map(([k, v]) => [k, v.outcome]));
}

test("the reference gateway passes every check (quota where the manager accounts memory), with times", async (t) => {
  await init(["--reload-signal", "HUP"]);
  const { code, rows } = await verify(["--wait", "20"]);
  assert.equal(code, 0, JSON.stringify([...rows.values()]));
  for (const c of ["start", "logs", "reload", "crash", "sigterm"]) assert.equal(rows.get(c)?.outcome, "pass", `${c}: ${rows.get(c)?.detail}`);
  for (const c of ["start", "crash", "sigterm"]) assert.ok((rows.get(c)?.ms ?? -1) >= 0, `${c} has a time`);
  const quota = rows.get("quota")!;
  t.diagnostic(`quota: ${quota.outcome} (${quota.detail}); times: ${["start", "crash", "sigterm"].map((c) => `${c} ${rows.get(c)?.ms} ms`).join(", ")}`);
  // The namespace sandbox delegates no memory controller; a systemd host's user@.service does.
  if (quota.outcome === "skip") assert.match(quota.detail, /accounts no memory/);
  else assert.equal(quota.outcome, "pass", quota.detail);
  // The text for people: a table with the verdict.
  const text = await sb.profiles(["verify", "--exec", `${process.execPath} ${badGateway}`]);
  assert.equal(text.code, 0, text.stderr + text.stdout);
  assert.match(text.stdout, /^CHECK +RESULT +TIME +DETAIL$/m);
  assert.match(text.stdout, /all checks passed/);
});

test("a gateway that never answers health fails start; every later check is skipped", async () => {
  await init(["--reload-signal", ""]);
  const { code, rows } = await verify(["--exec", `env NEVER_LISTEN=1 ${process.execPath} ${badGateway}`, "--wait", "3"]);
  assert.equal(code, 7);
  assert.deepEqual(outcomes(rows), { start: "fail", logs: "skip", reload: "skip", crash: "skip", sigterm: "skip", quota: "skip" });
  assert.match(rows.get("start")!.detail, /not healthy within 3 s/);
});

test("a gateway that ignores SIGTERM fails sigterm (killed at the stop timeout); the others pass", async () => {
  await init(["--stop-timeout", "2"]);
  const { code, rows } = await verify(["--exec", `env HEALTH_STATUS=200 IGNORE_SIGTERM=1 ${process.execPath} ${badGateway}`, "--wait", "15"]);
  assert.equal(code, 7);
  assert.equal(rows.get("sigterm")?.outcome, "fail");
  assert.match(rows.get("sigterm")!.detail, /ignored SIGTERM/);
  assert.ok((rows.get("sigterm")?.ms ?? 0) >= 2000, "the stop waited for its timeout");
  for (const c of ["start", "logs", "crash"]) assert.equal(rows.get(c)?.outcome, "pass", `${c}: ${rows.get(c)?.detail}`);
});

test("logs from the journal: the gateway's own lines pass, the manager's lines about its unit alone do not", async () => {
  // Where journald runs, "Started agent-gateway@..." is in the unit's journal whatever the gateway writes.
  const r = await sb.profiles(["init", "--range", RANGE, "--log-dir", "", "--no-sweep", "--stop-timeout", "15"]);
  assert.equal(r.code, 0, r.stderr);
  try {
    const speaks = await verify(["--exec", `env HEALTH_STATUS=200 ${process.execPath} ${badGateway}`, "--wait", "15"]);
    assert.equal(speaks.rows.get("logs")?.outcome, "pass", speaks.rows.get("logs")?.detail);
    const silent = await verify(["--exec", `env HEALTH_STATUS=200 SILENT=1 ${process.execPath} ${badGateway}`, "--wait", "15"]);
    assert.equal(silent.code, 7);
    assert.equal(silent.rows.get("start")?.outcome, "pass");
    assert.equal(silent.rows.get("logs")?.outcome, "fail");
    assert.match(silent.rows.get("logs")!.detail, /it wrote nothing to (the journal|\S+) since it started/);
  } finally {
    await init();
  }
});

test("a gateway that cannot start twice fails crash: the manager's restart never becomes healthy", async () => {
  await init(["--stop-timeout", "15"]);
  const { code, rows } = await verify(["--exec", `env ONCE=1 ${process.execPath} ${badGateway}`, "--wait", "8"]);
  assert.equal(code, 7);
  assert.equal(rows.get("start")?.outcome, "pass");
  assert.equal(rows.get("crash")?.outcome, "fail");
  assert.match(rows.get("crash")!.detail, /not healthy again within 8 s/);
});

test("bad --exec values exit 2 and write nothing", async () => {
  await init();
  const unitDir = path.join(sb.home, ".config/systemd/user");
  const before = (await fs.readdir(unitDir)).sort();
  for (const exec of ["", "gw ${", "/nonexistent/gateway --port ${PORT}"]) {
    const r = await sb.profiles(["verify", "--exec", exec]);
    assert.equal(r.code, 2, `${exec}: ${r.stderr}`);
    assert.match(r.stderr, /--exec/);
  }
  assert.deepEqual((await fs.readdir(unitDir)).sort(), before);
  assert.deepEqual(JSON.parse((await sb.profiles(["list", "--json"])).stdout), []);
});

test("Ctrl-C stops it after the check under way; the throwaway profile is still removed (exit 1)", async () => {
  await init();
  const run = spawnCli(sb, ["verify", "--json", "--wait", "20"]);
  let ended = false;
  void run.done.then(() => (ended = true));
  // Interrupted once its throwaway profile exists, during the first check: the directory appears when it is
  // added (read directly: a CLI call per look is too slow on a loaded machine to see a 10 s verify run).
  const profilesDir = userPaths(sb).profilesDir;
  const deadline = Date.now() + 60_000;
  while (!(await fs.readdir(profilesDir).catch(() => [] as string[])).some((n) => n.startsWith("verify-"))) {
    if (ended) {
      const r = await run.done;
      assert.fail(`verify ended (exit ${r.code}) before its throwaway profile was added:\n${r.stdout}\n${r.stderr}`);
    }
    assert.ok(Date.now() < deadline, "the throwaway profile was never added");
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(run.pid, "SIGINT");
  const r = await run.done;
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout) as { interrupted: string; leftovers: string[]; checks: Row[] };
  assert.equal(out.interrupted, "SIGINT");
  assert.deepEqual(out.leftovers, []);
  assert.ok(out.checks.some((c) => /not run: stopped by SIGINT/.test(c.detail)), JSON.stringify(out.checks));
  assert.deepEqual(JSON.parse((await sb.profiles(["list", "--json"])).stdout), []);
});

// Last: its init leaves Type=notify in the template for whatever would come after.
test("a gateway in another style passes too: Type=notify, its port as a flag, SIGHUP re-reads its settings", async () => {
  const style = path.join(sb.appDir, "dist/test/fixtures/style-gateway.js");
  await init(["--service-type", "notify", "--reload-signal", "HUP"]);
  const { code, rows } = await verify(["--exec", `${process.execPath} ${style} --notify --port \${PORT}`, "--wait", "20"]);
  assert.equal(code, 0, JSON.stringify([...rows.values()]));
  for (const c of ["start", "logs", "reload", "crash", "sigterm"]) assert.equal(rows.get(c)?.outcome, "pass", `${c}: ${rows.get(c)?.detail}`);
});

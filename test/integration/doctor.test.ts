import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only (logs.test.ts has 18835-18849).
const RANGE = "18820-18834";
const LINGER_DIR = "/var/lib/systemd/linger";

interface Report {
  ok: boolean;
  problems: number;
  checks: { id: string; status: string; message: string; problems: { message: string; fix: string }[] }[];
  fixes: string[];
}

let sb: Sandbox;
let lingerFile: string;
let createdLingerDir = false;

async function profiles(args: string[], env?: Record<string, string>) {
  return sb.profiles(args, { timeoutMs: 60_000, env });
}

async function doctor(env?: Record<string, string>): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await profiles(["doctor", "--json"], env);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

function failing(report: Report): string[] {
  return report.checks.filter((c) => c.status !== "ok").map((c) => `${c.id}:${c.status}`);
}

function check(report: Report, id: string) {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
}

/** Run a fix exactly as doctor printed it, as the user, through a shell with `profiles` on PATH. */
async function runFix(fix: string) {
  const r = await sb.exec("sh", ["-c", fix], { timeoutMs: 60_000, env: { PATH: `${path.join(sb.home, "bin")}:${sb.env.PATH}` } });
  assert.equal(r.code, 0, `${fix}: ${r.stdout}${r.stderr}`);
}

/** Rewrite a file as root in place: same inode, so its owner and mode stay the user's. */
async function editAsRoot(file: string, edit: (text: string) => string): Promise<void> {
  await fs.writeFile(file, edit(await fs.readFile(file, "utf8")));
}

async function assertClean(): Promise<void> {
  const d = await doctor();
  assert.deepEqual(failing(d.report), [], JSON.stringify(d.report.checks, null, 2));
  assert.equal(d.code, 0, d.stderr);
}

before(async () => {
  sb = await startSandbox();
  lingerFile = path.join(LINGER_DIR, sb.user);
  createdLingerDir = await fs.access(LINGER_DIR).then(() => false, () => true);
  await fs.mkdir(LINGER_DIR, { recursive: true });
  await fs.writeFile(lingerFile, "");
  const bin = path.join(sb.home, "bin");
  await fs.mkdir(bin, { mode: 0o755 });
  await fs.writeFile(path.join(bin, "profiles"), `#!/bin/sh\nexec node ${path.join(sb.appDir, "dist/src/cli.cjs")} "$@"\n`, { mode: 0o755 });
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs")]);
  assert.equal(init.code, 0, init.stderr);
  for (const name of ["alpha", "beta"]) {
    const r = await profiles(["add", name]);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  await fs.rm(lingerFile, { force: true });
  if (createdLingerDir) await fs.rmdir(LINGER_DIR).catch(() => {});
  await sb?.stop();
});

test("doctor is clean on a healthy host, and changes nothing", async () => {
  const before = await snapshot(sb.home);
  const d = await doctor();
  assert.equal(d.code, 0, JSON.stringify(d.report, null, 2));
  assert.equal(d.report.ok, true);
  assert.deepEqual(d.report.fixes, []);
  assert.deepEqual(d.report.checks.map((c) => [c.id, c.status]), [
    ["bus", "ok"], ["linger", "ok"], ["config", "ok"], ["template", "ok"], ["template-current", "ok"], ["template-loaded", "ok"],
    ["files", "ok"], ["env-files", "ok"], ["generations", "ok"], ["ports-shared", "ok"], ["ports-held", "ok"], ["unique-values", "ok"], ["units", "ok"], ["stray-units", "ok"], ["limits", "ok"], ["sweep-timer", "ok"],
  ]);
  // For people, in a pipe: plain marks, one line per check.
  const text = await profiles(["doctor"]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split("\n");
  const n = d.report.checks.length;
  assert.equal(lines.length, n + 1);
  for (const line of lines.slice(0, n)) assert.match(line, /^ok {3}\S/);
  assert.equal(lines[n], "no problems found");
  assert.deepEqual(await snapshot(sb.home), before);
});

test("doctor: a missing linger file", async () => {
  await fs.rm(lingerFile);
  try {
    const d = await doctor();
    assert.equal(d.code, 14);
    assert.deepEqual(failing(d.report), ["linger:problem"]);
    assert.equal(check(d.report, "linger").message, `${lingerFile} does not exist: profiles stop when ${sb.user} logs out`);
    assert.deepEqual(d.report.fixes, [`sudo loginctl enable-linger ${sb.user}`]);
    const text = await profiles(["doctor"]);
    assert.equal(text.code, 14);
    assert.match(text.stdout, new RegExp(`^FAIL lingering enabled: .*\\n[\\s\\S]*1 problem\\(s\\); to fix:\\n  sudo loginctl enable-linger ${sb.user}\\n$`, "m"));
  } finally {
    // loginctl needs logind, which the sandbox has not: the file is what it would write.
    await fs.writeFile(lingerFile, "");
  }
  await assertClean();
});

test("doctor: a world-readable .env, fixed by the chmod it prints", async () => {
  const env = path.join(sb.home, ".config/agent-profiles/profiles/alpha/.env");
  await fs.chmod(env, 0o644);
  const d = await doctor();
  assert.equal(d.code, 14);
  assert.deepEqual(failing(d.report), ["files:problem"]);
  assert.equal(check(d.report, "files").message, `${env} has mode 0644, want 0600`);
  assert.deepEqual(d.report.fixes, [`chmod 600 ${env}`]);
  await runFix(d.report.fixes[0]!);
  assert.equal((await fs.stat(env)).mode & 0o777, 0o600);
  await assertClean();
});

test("doctor: two profiles recording one port, fixed by the profiles set it prints", async () => {
  const list = JSON.parse((await profiles(["list", "--json"])).stdout) as { name: string; port: number }[];
  const alpha = list.find((p) => p.name === "alpha")!.port;
  const beta = list.find((p) => p.name === "beta")!.port;
  const env = path.join(sb.home, ".config/agent-profiles/profiles/beta/.env");
  await editAsRoot(env, (t) => t.replace(`PORT="${beta}"`, `PORT="${alpha}"`));
  assert.equal((await fs.stat(env)).uid, sb.uid);
  const d = await doctor();
  assert.equal(d.code, 14);
  assert.deepEqual(failing(d.report), ["ports-shared:problem"]);
  assert.equal(check(d.report, "ports-shared").message, `port ${alpha} is recorded by alpha, beta: beta must move`);
  assert.equal(d.report.fixes.length, 1);
  assert.match(d.report.fixes[0]!, /^profiles set beta PORT=188(2\d|3[0-4]) --restart$/);
  await runFix(d.report.fixes[0]!);
  await assertClean();
});

test("doctor: a foreign listener on a stopped profile's port, fixed by moving the profile", async () => {
  const stop = await profiles(["stop", "beta"]);
  assert.equal(stop.code, 0, stop.stderr);
  const port = (JSON.parse((await profiles(["list", "--json"])).stdout) as { name: string; port: number }[]).find((p) => p.name === "beta")!.port;
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  try {
    const d = await doctor();
    assert.equal(d.code, 14);
    assert.deepEqual(failing(d.report), ["ports-held:problem"]);
    // The listener is root's: the user cannot see which process it is.
    assert.equal(check(d.report, "ports-held").message, `port ${port} of beta is held by another process (not visible to this user), not by agent-gateway@beta.service`);
    assert.match(d.report.fixes[0]!, /^profiles set beta PORT=\d+ --restart$/);
    assert.doesNotMatch(d.report.fixes[0]!, new RegExp(`PORT=${port} `));
    await runFix(d.report.fixes[0]!);
    await assertClean();
  } finally {
    server.close();
  }
});

test("doctor: a failed unit; profiles start fixes it once the .env is fixed", async () => {
  const add = await profiles(["add", "pub", "--env", "HOST=0.0.0.0", "--wait", "10"]);
  assert.equal(add.code, 7, add.stdout + add.stderr);
  const d = await doctor();
  assert.equal(d.code, 14);
  assert.deepEqual(failing(d.report), ["units:problem"]);
  assert.equal(check(d.report, "units").message, "pub is failed (result exit-code, last exit status 78); see `profiles logs pub`");
  assert.deepEqual(d.report.fixes, ["profiles start pub"]);
  const set = await profiles(["set", "pub", "API_KEY=k3y"]);
  assert.equal(set.code, 0, set.stderr);
  await runFix(d.report.fixes[0]!);
  await assertClean();
});

test("doctor: the template of a version before SyslogIdentifier=, fixed by profiles init", async () => {
  const unit = path.join(sb.home, ".config/systemd/user/agent-gateway@.service");
  const text = await fs.readFile(unit, "utf8");
  assert.match(text, /^SyslogIdentifier=%N$/m);
  await fs.writeFile(unit, text.replace(/^SyslogIdentifier=.*\n/m, ""));
  const d = await doctor();
  assert.equal(d.code, 14);
  assert.match(check(d.report, "template-current").message, /lacks `\[Service\] SyslogIdentifier=%N`/);
  assert.deepEqual(d.report.fixes, ["profiles init"]);
  await runFix("profiles init");
  assert.equal(await fs.readFile(unit, "utf8"), text);
  await assertClean();
});

test("doctor: a unit enabled with no profile (what an add killed before its .env leaves), fixed by profiles remove", async () => {
  const unit = "agent-gateway@ghost.service";
  const enable = await sb.exec("systemctl", ["--user", "enable", unit]);
  assert.equal(enable.code, 0, enable.stderr);
  const d = await doctor();
  assert.equal(d.code, 14);
  assert.match(check(d.report, "stray-units").message, /agent-gateway@ghost\.service is enabled: the manager starts it at its own next start \(a login, or the boot with lingering\), with no \.env/);
  assert.deepEqual(d.report.fixes, ["profiles remove ghost"]);
  await runFix("profiles remove ghost");
  assert.equal((await sb.exec("systemctl", ["--user", "is-enabled", unit])).stdout.trim(), "disabled");
  const again = await sb.profiles(["remove", "ghost"]);
  assert.equal(again.code, 3, again.stderr);
  await assertClean();
});

test("remove of a unit enabled at runtime (enable --runtime) removes its runtime link too, which the manager's plain disable leaves", async () => {
  const unit = "agent-gateway@rt.service";
  const enable = await sb.exec("systemctl", ["--user", "enable", "--runtime", unit]);
  assert.equal(enable.code, 0, enable.stderr);
  const r = await sb.profiles(["remove", "rt"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /rt was no profile, but its unit agent-gateway@rt\.service was enabled or running: stopped and disabled it/);
  assert.equal((await sb.exec("systemctl", ["--user", "is-enabled", unit])).stdout.trim(), "disabled");
  assert.equal((await sb.profiles(["remove", "rt"])).code, 3);
  await assertClean();
});

test("doctor: units enabled for this runtime only and not loaded since (no reload), found by their links under $XDG_RUNTIME_DIR, fixed by the commands it prints", async () => {
  // One a profile could be called (`remove`'s), one no profile can be (systemctl's, with --runtime).
  const units = ["agent-gateway@Stray.service", "agent-gateway@stray.service"];
  for (const unit of units) {
    const enable = await sb.exec("systemctl", ["--user", "enable", "--runtime", "--no-reload", unit]);
    assert.equal(enable.code, 0, enable.stderr);
    assert.equal(await fs.readlink(path.join(sb.env.XDG_RUNTIME_DIR!, "systemd/user/default.target.wants", unit)), path.join(sb.home, ".config/systemd/user/agent-gateway@.service"));
    const state = await sb.exec("busctl", ["--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnitFileState", "s", unit]);
    assert.equal(state.stdout.trim(), 's "enabled-runtime"', state.stderr);
  }
  // Not loaded, so the manager lists neither (list-units loads nothing, unlike show).
  const loaded = await sb.exec("systemctl", ["--user", "list-units", "--all", "--plain", "--no-legend", "agent-gateway@*tray.service"]);
  assert.equal(loaded.stdout.trim(), "", loaded.stderr);
  const d = await doctor();
  assert.equal(d.code, 14, JSON.stringify(d.report.checks, null, 2));
  assert.deepEqual(failing(d.report), ["stray-units:problem"]);
  const why = "is enabled-runtime: the manager starts it if its target starts again before a reboot (or, without lingering, the last logout): a manager restart, with no .env, and it fails";
  assert.deepEqual(check(d.report, "stray-units").problems.map((p) => [p.message, p.fix]), [
    [`agent-gateway@Stray.service ${why}, but Stray is no profile (an \`add\` killed half-way, or started by hand)`, "systemctl --user disable --now --runtime agent-gateway@Stray.service"],
    [`agent-gateway@stray.service ${why}, but stray is no profile (an \`add\` killed half-way, or started by hand)`, "profiles remove stray"],
  ]);
  for (const fix of d.report.fixes) await runFix(fix);
  for (const unit of units) assert.equal((await sb.exec("systemctl", ["--user", "is-enabled", unit])).stdout.trim(), "disabled");
  await assertClean();
});

test("doctor: a missing template, fixed by profiles init", async () => {
  const unit = path.join(sb.home, ".config/systemd/user/agent-gateway@.service");
  await fs.rename(unit, `${unit}.away`);
  try {
    const d = await doctor();
    assert.equal(d.code, 14);
    assert.equal(check(d.report, "template").status, "problem");
    assert.equal(check(d.report, "template").message, `${unit} is not installed`);
    assert.deepEqual(d.report.fixes, ["profiles init"]);
    await runFix("profiles init");
  } finally {
    await fs.rm(`${unit}.away`, { force: true });
  }
  await assertClean();
});

test("doctor: a stopped sweep timer, fixed by profiles init; none wanted after init --no-sweep", async () => {
  const stop = await sb.exec("systemctl", ["--user", "stop", "agent-profiles-sweep.timer"]);
  assert.equal(stop.code, 0, stop.stderr);
  const d = await doctor();
  assert.equal(d.code, 14);
  assert.deepEqual(failing(d.report), ["sweep-timer:problem"]);
  assert.equal(check(d.report, "sweep-timer").message, "agent-profiles-sweep.timer is inactive: no nightly sweep runs");
  assert.deepEqual(d.report.fixes, ["profiles init"]);
  await runFix("profiles init");
  await assertClean();
  const off = await profiles(["init", "--no-sweep"]);
  assert.equal(off.code, 0, off.stderr);
  try {
    const none = await doctor();
    assert.equal(none.code, 0, JSON.stringify(none.report.checks, null, 2));
    assert.match(check(none.report, "sweep-timer").message, /off by choice/);
  } finally {
    const on = await profiles(["init", "--sweep"]);
    assert.equal(on.code, 0, on.stderr);
  }
  await assertClean();
});

test("doctor: an unreachable bus is reported, the checks that need it are skipped, the rest still run", async () => {
  const d = await doctor({ DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" });
  assert.equal(d.code, 14, d.stderr);
  assert.match(check(d.report, "bus").message, /cannot reach the systemd user manager at unix:path=\/nonexistent\/bus/);
  assert.deepEqual(d.report.fixes, [`sudo systemctl start user@${sb.uid}.service`]);
  assert.deepEqual(failing(d.report), ["bus:problem", "template-loaded:skipped", "ports-held:skipped", "units:skipped", "stray-units:skipped", "limits:skipped", "sweep-timer:skipped"]);
});

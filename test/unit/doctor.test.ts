import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import doctor, { renderReport } from "../../src/commands/doctor.js";
import { runDoctor, type DoctorOptions, type DoctorReport } from "../../src/core/doctor/run.js";
import { execProgram, PROBE_INSTANCE } from "../../src/core/doctor/template.js";
import { SWEEP_TIMER } from "../../src/core/sweep/schedule.js";
import { busFix } from "../../src/core/doctor/bus.js";
import { createContext } from "../../src/core/context.js";
import { ExitCode, ManagerUnreachableError } from "../../src/errors.js";
import { envFile, profileDir } from "../../src/paths.js";
import history from "../../src/commands/history.js";
import { commitEnvText, generationFile, readGeneration } from "../../src/store/generations.js";
import { createProfile } from "../../src/store/profiles.js";
import { flipBit, truncateHalf } from "../helpers/corrupt.js";
import { TEMPLATE_UNIT, unitName } from "../../src/systemd/types.js";
import { FakeProcs, fakeWorld } from "../helpers/fakes.js";
import { templateText } from "../../src/core/init-host.js";
import { loadConfig, type Config } from "../../src/config.js";
import { setUnitKey } from "../../src/systemd/unit-file.js";

type World = Awaited<ReturnType<typeof fakeWorld>>;


const UID = process.getuid!();

async function installTemplate(w: World, execStart: string): Promise<string> {
  const file = path.join(w.ctx.paths.unitDir, TEMPLATE_UNIT);
  await fs.mkdir(path.dirname(file), { recursive: true });
  // What init writes for this config, with the ExecStart= of the case.
  // Read here, not through the context, which would keep it for the doctor run of the test.
  await fs.writeFile(file, await templateText(await loadConfig(w.ctx.paths), execStart));
  return file;
}

/** A host where every check passes: linger file, template, two running profiles on their own ports, the timer. */
async function healthyWorld(config: Partial<Config> = {}): Promise<{ w: World; opts: DoctorOptions; procs: FakeProcs }> {
  const w = await fakeWorld({ portRange: { from: 9300, to: 9310 }, ...config });
  const lingerDir = path.join(w.home, "linger");
  await fs.mkdir(lingerDir);
  await fs.writeFile(path.join(lingerDir, "tester"), "");
  await installTemplate(w, `"${process.execPath}" "/opt/gw/main.js" "--port-var" "PORT"`);
  for (const [name, port] of [["a", 9300], ["b", 9301]] as const) {
    await createProfile(w.ctx.paths, name, new Map([["PORT", String(port)]]));
    await w.systemd.enable([unitName(name)]);
    await w.systemd.start(unitName(name));
    const pid = (await w.systemd.state(unitName(name))).mainPid;
    w.ports.listeners.set(port, { port, pid, command: "node" });
  }
  await w.systemd.start(SWEEP_TIMER);
  const procs = new FakeProcs();
  return { w, opts: { user: "tester", uid: UID, lingerDir, procs }, procs };
}

function check(report: DoctorReport, id: string) {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
}

function problemsOnly(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status !== "ok").map((c) => `${c.id}:${c.status}`);
}

test("doctor: a healthy host passes every check, in order, with no fixes", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), []);
    assert.equal(r.ok, true);
    assert.deepEqual(r.fixes, []);
    assert.deepEqual(r.checks.map((c) => c.id), ["bus", "linger", "config", "template", "template-current", "template-loaded", "files", "env-files", "generations", "ports-shared", "ports-held", "unique-values", "units", "stray-units", "limits", "sweep-timer"]);
    assert.match(check(r, "template").message, new RegExp(`runs ${process.execPath.replace(/[/.]/g, "\\$&")}`));
  } finally {
    await w.cleanup();
  }
});

test("doctor: an unreachable bus is a problem with its fix, and the checks needing it are skipped", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const env = { ...w.ctx.env, XDG_RUNTIME_DIR: "/run/user/4242" };
    const ctx = createContext({ env, json: true, systemd: async () => { throw new ManagerUnreachableError("unix:path=/run/user/4242/bus", "ENOENT"); }, ports: w.ctx.ports, progress: () => {} });
    const r = await runDoctor(ctx, opts);
    assert.equal(check(r, "bus").status, "problem");
    assert.deepEqual(check(r, "bus").problems.map((p) => p.fix), [`sudo systemctl start user@${UID}.service`]);
    for (const id of ["template-loaded", "ports-held", "units", "stray-units", "limits", "sweep-timer"]) {
      assert.equal(check(r, id).status, "skipped", id);
      assert.match(check(r, id).message, /^skipped because the user bus is unreachable$/);
    }
    // What does not need the bus still runs.
    for (const id of ["linger", "config", "template", "files", "ports-shared"]) assert.equal(check(r, id).status, "ok", id);
    assert.equal(r.problems, 1);
    assert.equal(busFix({}, 7), "export XDG_RUNTIME_DIR=/run/user/7");
  } finally {
    await w.cleanup();
  }
});

test("doctor: no linger file → the loginctl command", async () => {
  const { w, opts } = await healthyWorld();
  try {
    await fs.rm(path.join(opts.lingerDir!, "tester"));
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["linger:problem"]);
    assert.match(check(r, "linger").message, /linger\/tester does not exist: profiles stop when tester logs out/);
    assert.deepEqual(r.fixes, ["sudo loginctl enable-linger tester"]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: a missing config skips the port checks; a broken one names the field and the file to edit", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const text = await fs.readFile(w.ctx.paths.configFile, "utf8");
    await fs.writeFile(w.ctx.paths.configFile, text.replace(/range=.*/, "range=9000-80"));
    let r = await runDoctor(w.ctx, opts);
    assert.match(check(r, "config").message, /ports\.range: "9000-80" starts after it ends/);
    assert.deepEqual(r.fixes, [`\${EDITOR:-vi} ${w.ctx.paths.configFile}`]);
    assert.equal(check(r, "ports-shared").status, "skipped");
    assert.match(check(r, "ports-held").message, /config\.ini cannot be used/);
    await fs.rm(w.ctx.paths.configFile);
    // A fresh context: the old one keeps the config it loaded.
    const ctx = createContext({ env: w.ctx.env, json: true, systemd: w.ctx.systemd, ports: w.ctx.ports, progress: () => {} });
    r = await runDoctor(ctx, opts);
    assert.match(check(r, "config").message, /no configuration at/);
    assert.deepEqual(r.fixes, ["profiles init"]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: template missing, ExecStart relative, missing or not executable → profiles init", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const file = path.join(w.ctx.paths.unitDir, TEMPLATE_UNIT);
    const notExec = path.join(w.home, "gw.sh");
    await fs.writeFile(notExec, "#!/bin/sh\n", { mode: 0o644 });
    const cases: [string | null, RegExp][] = [
      [null, /agent-gateway@\.service is not installed/],
      ["agent-gateway --port 1", /program "agent-gateway" is not an absolute path/],
      ["/nonexistent/gw", /program \/nonexistent\/gw does not exist/],
      [notExec, /is not executable \(EACCES\)/],
      [`"${w.home}"`, /is not a file/],
      ['"/usr/bin/x', /unclosed quote/],
    ];
    for (const [execStart, message] of cases) {
      if (execStart === null) await fs.rm(file);
      else await installTemplate(w, execStart);
      const r = await runDoctor(w.ctx, opts);
      assert.deepEqual(problemsOnly(r), ["template:problem"], String(execStart));
      assert.match(check(r, "template").message, message);
      assert.deepEqual(r.fixes, ["profiles init"]);
    }
    // Prefixes and escapes systemd understands are no problem.
    assert.deepEqual(execProgram(`-@"/opt/100%%/gw" arg`), { program: "/opt/100%/gw" });
    await installTemplate(w, `-${process.execPath} x`);
    assert.equal(check(await runDoctor(w.ctx, opts), "template").status, "ok");
  } finally {
    await w.cleanup();
  }
});

test("doctor: a template other than init writes (an older version's, a hand edit) → profiles init, naming the lines", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const file = await installTemplate(w, `${process.execPath} x`);
    const current = await fs.readFile(file, "utf8");
    // The template of a version before SyslogIdentifier=, with a key added by hand.
    await fs.writeFile(file, setUnitKey(setUnitKey(current, "Service", "SyslogIdentifier", []), "Service", "Nice", ["5"]));
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["template-current:problem"]);
    const message = check(r, "template-current").message;
    assert.match(message, /lacks `\[Service\] SyslogIdentifier=%N`, and has `\[Service\] Nice=5`, which init does not write/);
    assert.deepEqual(r.fixes, ["profiles init"]);
    // Comments, blank lines and ExecStart= (judged by the template check) are not compared.
    await fs.writeFile(file, `# edited\n\n${setUnitKey(current, "Service", "ExecStart", ["/usr/bin/true"])}`);
    assert.equal(check(await runDoctor(w.ctx, opts), "template-current").status, "ok");
  } finally {
    await w.cleanup();
  }
});

test("doctor: template-current does not resolve the gateway program again (init found it on its PATH; doctor's may lack it)", async () => {
  // `init --exec gw-on-init-path` resolved it to an absolute ExecStart=; doctor runs where PATH has no such program.
  const { w, opts } = await healthyWorld({ exec: "gw-on-init-path --port ${PORT}" });
  try {
    await installTemplate(w, `/opt/init-path/gw-on-init-path --port \${PORT}`);
    const r = await runDoctor({ ...w.ctx, env: { ...w.ctx.env, PATH: "/usr/bin:/bin" } }, opts);
    assert.equal(check(r, "template-current").status, "ok", check(r, "template-current").message);
  } finally {
    await w.cleanup();
  }
});

test("doctor: a template the manager cannot load", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const probe = await w.systemd.state(PROBE_INSTANCE);
    w.systemd.units.set(PROBE_INSTANCE, { ...probe, loadState: "bad-setting" });
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["template-loaded:problem"]);
    assert.match(check(r, "template-loaded").message, /load state of agent-gateway@doctor-probe\.service: bad-setting/);
    assert.deepEqual(r.fixes, ["profiles init"]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: wrong modes and owners of profile files, each with its chmod or chown", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const env = envFile(w.ctx.paths, "a");
    const dir = profileDir(w.ctx.paths, "b");
    await fs.chmod(env, 0o644);
    await fs.chmod(dir, 0o755);
    let r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["files:problem"]);
    assert.deepEqual(check(r, "files").problems.map((p) => p.message), [`${env} has mode 0644, want 0600`, `${dir} has mode 0755, want 0700`]);
    assert.deepEqual(r.fixes, [`chmod 600 ${env}`, `chmod 700 ${dir}`]);
    await fs.chmod(env, 0o600);
    await fs.chmod(dir, 0o700);
    r = await runDoctor(w.ctx, { ...opts, uid: UID + 1 });
    assert.equal(check(r, "files").problems.length, 4);
    assert.match(check(r, "files").problems[0]!.message, new RegExp(`belongs to uid ${UID}, not tester \\(uid ${UID + 1}\\)`));
    assert.equal(check(r, "files").problems[0]!.fix, `sudo chown tester ${profileDir(w.ctx.paths, "a")}`);
  } finally {
    await w.cleanup();
  }
});

test("doctor: a symlinked .env is judged by the file it points to; one leading nowhere gets the cp of its newest generation", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const env = envFile(w.ctx.paths, "a");
    const target = path.join(w.home, "dotfiles", "a.env");
    await fs.mkdir(path.dirname(target));
    await fs.rename(env, target);
    await fs.symlink(target, env);
    let r = await runDoctor(w.ctx, opts);
    assert.equal(check(r, "files").status, "ok", JSON.stringify(check(r, "files").problems));
    await fs.chmod(target, 0o644);
    r = await runDoctor(w.ctx, opts);
    assert.deepEqual(check(r, "files").problems.map((p) => p.message), [`${env} has mode 0644, want 0600`]);
    await fs.rm(target);
    r = await runDoctor(w.ctx, opts);
    assert.deepEqual(check(r, "files").problems, [{ message: `${env}: is a symlink to ${target} that leads to no file`, fix: `cp ${generationFile(w.ctx.paths, "a", 1)} ${target}` }]);
    // The fix brings the profile back as it was.
    await fs.copyFile(generationFile(w.ctx.paths, "a", 1), target);
    await fs.chmod(target, 0o600);
    r = await runDoctor(w.ctx, opts);
    assert.equal(check(r, "files").status, "ok");
  } finally {
    await w.cleanup();
  }
});

test("doctor: corrupt generations, each with the copy that restores its bytes or the command that forgets it", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const gen = (name: string, n: number) => generationFile(w.ctx.paths, name, n);
    // a: 1 and 2 (the .env holds 2); b: 1, 2, 3 holding 1's bytes again (a rollback), 4.
    await commitEnvText(w.ctx.paths, "a", 'PORT="9300"\nA="2"\n', "set A");
    await commitEnvText(w.ctx.paths, "b", 'PORT="9301"\nB="2"\n', "set B");
    await commitEnvText(w.ctx.paths, "b", await readGeneration(w.ctx.paths, "b", 1), "rollback to 1", { always: true });
    await commitEnvText(w.ctx.paths, "b", 'PORT="9301"\nB="4"\n', "set B");
    await truncateHalf(gen("a", 1));
    await flipBit(gen("a", 2));
    await fs.rm(gen("b", 1));
    let r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["generations:problem"]);
    const problems = check(r, "generations").problems;
    assert.deepEqual(problems.map((p) => p.message.replace(/[0-9a-f]{12}…/g, "SHA")), [
      `a: ${gen("a", 1)} does not hold the bytes of generation 1 (sha256 SHA expected, SHA found)`,
      `a: ${gen("a", 2)} does not hold the bytes of generation 2 (sha256 SHA expected, SHA found)`,
      `b: ${gen("b", 1)} is missing although index.json lists it (generation 1)`,
    ]);
    assert.deepEqual(problems.map((p) => p.fix), [`profiles history a --forget 1`, `cp ${envFile(w.ctx.paths, "a")} ${gen("a", 2)}`, `cp ${gen("b", 3)} ${gen("b", 1)}`]);
    const hist = await history.run({ json: false, verbose: false, name: "a" }, w.ctx);
    assert.match(hist.text, /^2\*! /m);
    assert.match(hist.text, /^1! /m);
    assert.match(hist.text, /^! its file no longer holds the bytes recorded for it/m);
    await fs.copyFile(envFile(w.ctx.paths, "a"), gen("a", 2));
    await fs.copyFile(gen("b", 3), gen("b", 1));
    const forgot = await history.run({ json: false, verbose: false, name: "a", forget: "1" }, w.ctx);
    assert.match(forgot.text, new RegExp(`^forgot generation 1: ${gen("a", 1)} does not hold`));
    r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), []);
    assert.equal(check(r, "generations").message, "5 generation(s) of 2 profile(s), all intact");
  } finally {
    await w.cleanup();
  }
});

test("doctor: two profiles on one port → move one to a free port with profiles set", async () => {
  const { w, opts } = await healthyWorld();
  try {
    await createProfile(w.ctx.paths, "c", new Map([["PORT", "9300"]]));
    await createProfile(w.ctx.paths, "d", new Map([["PORT", "9300"]]));
    w.ports.listeners.set(9302, { port: 9302 });
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["ports-shared:problem"]);
    assert.deepEqual(check(r, "ports-shared").problems.map((p) => p.message), ["port 9300 is recorded by a, c, d: c must move", "port 9300 is recorded by a, c, d: d must move"]);
    // Distinct suggestions, skipping the port a foreign process listens on.
    assert.deepEqual(r.fixes, ["profiles set c PORT=9303 --restart", "profiles set d PORT=9304 --restart"]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: a profile's port held by a foreign process, or by another profile's gateway", async () => {
  const { w, opts, procs } = await healthyWorld();
  try {
    await createProfile(w.ctx.paths, "c", new Map([["PORT", "9305"]]));
    await createProfile(w.ctx.paths, "d", new Map([["PORT", "9306"]]));
    w.ports.listeners.set(9305, { port: 9305, pid: 4242, command: "python3" });
    w.ports.listeners.set(9306, { port: 9306 });
    let r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["ports-held:problem"]);
    assert.deepEqual(check(r, "ports-held").problems.map((p) => p.message), [
      "port 9305 of c is held by process 4242 (python3), not by agent-gateway@c.service",
      "port 9306 of d is held by another process (not visible to this user), not by agent-gateway@d.service",
    ]);
    assert.deepEqual(r.fixes, ["profiles set c PORT=9302 --restart", "profiles set d PORT=9303 --restart"]);
    // A gateway started by a wrapper listens from a child in its unit's cgroup: its own port.
    procs.cgroups.set(4242, unitName("c"));
    r = await runDoctor(w.ctx, opts);
    assert.deepEqual(check(r, "ports-held").problems.map((p) => p.message), [
      "port 9306 of d is held by another process (not visible to this user), not by agent-gateway@d.service",
    ]);
    // b's .env moved to 9307 but b still runs on 9301; nothing is wrong with a.
    w.ports.listeners.delete(9305);
    w.ports.listeners.delete(9306);
    await fs.writeFile(envFile(w.ctx.paths, "b"), 'PORT="9307"\n', { mode: 0o600 });
    await createProfile(w.ctx.paths, "e", new Map([["PORT", "9301"]]));
    r = await runDoctor(w.ctx, opts);
    assert.deepEqual(check(r, "ports-held").problems.map((p) => [p.message, p.fix]), [
      [`port 9301 of e is held by b's gateway (pid ${w.ports.listeners.get(9301)!.pid}), whose .env now records port 9307`, "profiles restart b"],
    ]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: failed and start-limit-hit units → profiles start", async () => {
  const { w, opts } = await healthyWorld();
  try {
    const a = await w.systemd.state(unitName("a"));
    w.systemd.units.set(unitName("a"), { ...a, activeState: "failed", subState: "failed", result: "exit-code", execMainCode: 1, execMainStatus: 78, mainPid: 0 });
    w.systemd.units.set(unitName("b"), { ...a, name: unitName("b"), activeState: "failed", subState: "failed", result: "start-limit-hit", execMainCode: 1, execMainStatus: 1, mainPid: 0 });
    // A unit of no profile is not reported.
    w.systemd.units.set(unitName("gone"), { ...a, name: unitName("gone"), activeState: "failed" });
    w.ports.listeners.clear();
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["units:problem"]);
    assert.deepEqual(check(r, "units").problems.map((p) => p.message), [
      "a is failed (result exit-code, last exit status 78); see `profiles logs a`",
      "b crashed too often and hit its start limit (failed, last exit status 1); see `profiles logs b`",
    ]);
    assert.deepEqual(r.fixes, ["profiles start a", "profiles start b"]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: an enabled or running unit of the template with no profile → profiles remove NAME", async () => {
  const { w, opts } = await healthyWorld();
  try {
    // Enabled and never started (not loaded, so only its link in default.target.wants tells), as a killed add leaves it.
    const wants = path.join(w.ctx.paths.unitDir, "default.target.wants");
    await fs.mkdir(wants, { recursive: true });
    await fs.symlink("../agent-gateway@.service", path.join(wants, "agent-gateway@ghost.service"));
    // Enabled by hand under a name no profile can have: systemctl's to clean up, not `remove`'s (for this boot only: --runtime).
    await fs.symlink("../agent-gateway@.service", path.join(wants, "agent-gateway@Foo.service"));
    await w.systemd.enable(["agent-gateway@Foo.service"]);
    w.systemd.runtimeEnabled.add("agent-gateway@Bar.service");
    // Started with it (`enable --runtime --now`): loaded, so the manager lists it; its link is under $XDG_RUNTIME_DIR.
    w.systemd.units.set(unitName("Bar"), { ...(await w.systemd.state(unitName("a"))), name: unitName("Bar"), mainPid: 888 });
    await w.systemd.enable(["agent-gateway@ghost.service"]);
    // Enabled for this runtime and not loaded since (`enable --runtime --no-reload`): only its link under $XDG_RUNTIME_DIR tells.
    const runtimeWants = path.join(w.ctx.paths.runtimeUnitDir, "default.target.wants");
    await fs.mkdir(runtimeWants, { recursive: true });
    await fs.symlink(path.join(w.ctx.paths.unitDir, "agent-gateway@.service"), path.join(runtimeWants, "agent-gateway@Baz.service"));
    w.systemd.runtimeEnabled.add("agent-gateway@Baz.service");
    const base = await w.systemd.state(unitName("a"));
    w.systemd.units.set(unitName("hand"), { ...base, name: unitName("hand"), mainPid: 777 });
    // Neither enabled nor running: at rest, whatever its last result.
    w.systemd.units.set(unitName("old"), { ...base, name: unitName("old"), activeState: "failed", subState: "failed", mainPid: 0 });
    const r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["stray-units:problem"]);
    assert.deepEqual(check(r, "stray-units").problems.map((p) => [p.message, p.fix]), [
      ["agent-gateway@Bar.service is enabled-runtime: the manager starts it if its target starts again before a reboot (or, without lingering, the last logout): a manager restart, with no .env, and it fails, but Bar is no profile (an `add` killed half-way, or started by hand)", "systemctl --user disable --now --runtime agent-gateway@Bar.service"],
      ["agent-gateway@Baz.service is enabled-runtime: the manager starts it if its target starts again before a reboot (or, without lingering, the last logout): a manager restart, with no .env, and it fails, but Baz is no profile (an `add` killed half-way, or started by hand)", "systemctl --user disable --now --runtime agent-gateway@Baz.service"],
      ["agent-gateway@Foo.service is enabled: the manager starts it at its own next start (a login, or the boot with lingering), with no .env, and it fails, but Foo is no profile (an `add` killed half-way, or started by hand)", "systemctl --user disable --now agent-gateway@Foo.service"],
      ["agent-gateway@ghost.service is enabled: the manager starts it at its own next start (a login, or the boot with lingering), with no .env, and it fails, but ghost is no profile (an `add` killed half-way, or started by hand)", "profiles remove ghost"],
      ["agent-gateway@hand.service is active/running, with no .env of ours, but hand is no profile (an `add` killed half-way, or started by hand)", "profiles remove hand"],
    ]);
    // A profiles directory that cannot be listed (a file in its place: ENOTDIR, even for root) would make
    // the running profiles a and b look stray: not judged then, and no `profiles remove` offered.
    const dir = w.ctx.paths.profilesDir;
    await fs.rename(dir, `${dir}.away`);
    await fs.writeFile(dir, "");
    try {
      const unlisted = await runDoctor(w.ctx, opts);
      assert.match(check(unlisted, "stray-units").message, /^not judged: .* cannot be listed \(ENOTDIR\)/);
      assert.match(check(unlisted, "unique-values").message, /^not judged: .* cannot be listed \(ENOTDIR\)/);
      assert.ok(!unlisted.fixes.some((f) => f.startsWith("profiles remove")), unlisted.fixes.join("\n"));
    } finally {
      await fs.rm(dir);
      await fs.rename(`${dir}.away`, dir);
    }
  } finally {
    await w.cleanup();
  }
});

test("doctor: the sweep timer missing or inactive → profiles init", async () => {
  const { w, opts } = await healthyWorld();
  try {
    await w.systemd.stop(SWEEP_TIMER);
    let r = await runDoctor(w.ctx, opts);
    assert.deepEqual(problemsOnly(r), ["sweep-timer:problem"]);
    assert.match(check(r, "sweep-timer").message, /agent-profiles-sweep\.timer is inactive: no nightly sweep runs/);
    assert.deepEqual(r.fixes, ["profiles init"]);
    w.systemd.units.set(SWEEP_TIMER, { ...(await w.systemd.state(SWEEP_TIMER)), loadState: "not-found" });
    r = await runDoctor(w.ctx, opts);
    assert.match(check(r, "sweep-timer").message, /is not installed \(not-found\)/);
    // After `init --no-sweep`, no timer is what the user asked for.
    const config = { ...(await w.ctx.config()), sweepTimer: false };
    r = await runDoctor({ ...w.ctx, config: async () => config }, opts);
    assert.equal(check(r, "sweep-timer").status, "ok");
    assert.match(check(r, "sweep-timer").message, /off by choice \(`profiles init --no-sweep`\)/);
  } finally {
    await w.cleanup();
  }
});

test("doctor command: exit 14 with the fixes; text marks for a pipe and for a terminal", async () => {
  const { w, opts } = await healthyWorld();
  try {
    await fs.chmod(envFile(w.ctx.paths, "a"), 0o640);
    const res = await doctor.run({ json: true, verbose: false }, w.ctx);
    assert.equal(res.exitCode, ExitCode.problemsFound);
    const report = res.data as DoctorReport;
    assert.ok(report.fixes.includes(`chmod 600 ${envFile(w.ctx.paths, "a")}`));
    const clean = await runDoctor(w.ctx, opts);
    const piped = renderReport(report, false, false);
    assert.match(piped, /^FAIL profile directories 0700 and \.env files 0600, owned by you: .* has mode 0640, want 0600$/m);
    assert.match(piped, /^ok {3}user bus reachable: /m);
    assert.match(piped, /problem\(s\); to fix:\n(  .+\n)*  chmod 600 /);
    assert.doesNotMatch(piped, /\x1b\[/);
    assert.match(renderReport(report, true, true), /\x1b\[31m✗\x1b\[0m profile directories/);
    assert.match(renderReport(report, true, false), /^✗ profile directories/m);
    assert.match(renderReport({ ...clean, ok: true }, false, false), /no problems found$/);
  } finally {
    await w.cleanup();
  }
});

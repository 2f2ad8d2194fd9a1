/**
 * The systemd adapter (src/systemd/manager.ts and the modules it composes) against a real user manager. The
 * test runs as root, whom the user's dbus-daemon turns away, so the adapter runs as the sandbox user in
 * test/fixtures/adapter-driver.js.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode, ManagerUnreachableError } from "../../src/errors.js";
import { connectSystemd } from "../../src/systemd/manager.js";
import type { RunState, UnitState } from "../../src/systemd/types.js";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import type { DriverOutput, DriverResult, DriverStep } from "../fixtures/adapter-driver.js";

const SVC = "aptest-svc";
const FAIL = "aptest-fail";
const SLOW = "aptest-slow";
const BRIEF = "aptest-brief";
const RELOAD = "aptest-reload";
const EXIT3 = "aptest-exit";
const CRASHY = "aptest-crashy";
const NO_SUCH_UNIT = "org.freedesktop.systemd1.NoSuchUnit";

const UNIT_FILES: Record<string, string> = {
  [`${SVC}@.service`]: "[Unit]\nDescription=adapter test %i\n\n[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=default.target\n",
  // Exits at once: each start job still ends `done`; the failure only shows in the unit's state.
  [`${FAIL}@.service`]: "[Service]\nExecStart=/bin/sh -c 'exit 1'\nRestart=on-failure\nRestartSec=100ms\n",
  [`${SLOW}@.service`]: "[Service]\nType=oneshot\nExecStart=/bin/sleep 30\n",
  [`${BRIEF}@.service`]: "[Service]\nType=oneshot\nExecStart=/bin/sleep 0.5\n",
  [`${EXIT3}@.service`]: "[Service]\nExecStart=/bin/sh -c 'exit 3'\n",
  [`${CRASHY}@.service`]: "[Service]\nExecStart=/bin/sleep infinity\nRestart=on-failure\nRestartSec=100ms\n",
};

let sandbox: Sandbox;

async function writeUnitFile(name: string, text: string): Promise<void> {
  // As the user, so that the file and the directories made for it are theirs.
  const file = join(sandbox.home, ".config/systemd/user", name);
  const r = await sandbox.exec("sh", ["-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", file], { input: text });
  assert.equal(r.code, 0, r.stderr);
}

/** Runs steps in one driver process as the sandbox user. */
async function drive(steps: DriverStep[], env?: Record<string, string>): Promise<DriverOutput & { code: number }> {
  const script = join(sandbox.appDir, "dist/test/fixtures/adapter-driver.js");
  const r = await sandbox.exec("node", [script, JSON.stringify(steps)], { env, timeoutMs: 60_000 });
  let out: DriverOutput;
  try {
    out = JSON.parse(r.stdout) as DriverOutput;
  } catch {
    throw new Error(`driver printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...out, code: r.code };
}

/** Runs steps and returns their values, failing the test on any step error. */
async function values(steps: DriverStep[]): Promise<unknown[]> {
  const out = await drive(steps);
  assert.equal(out.code, 0, JSON.stringify(out));
  return (out.results ?? []).map((r, i) => {
    assert.ok(r.ok, `step ${JSON.stringify(steps[i])} failed: ${JSON.stringify(r)}`);
    return r.value;
  });
}

async function one(step: DriverStep): Promise<DriverResult> {
  const out = await drive([step]);
  const r = out.results?.[0];
  assert.ok(r, JSON.stringify(out));
  return r;
}

async function state(unit: string): Promise<UnitState> {
  const [s] = await values([["state", unit]]);
  return s as UnitState;
}

/** Polls state() until `done` holds or the deadline passes; returns every state seen. */
async function pollState(unit: string, done: (s: UnitState) => boolean, deadlineMs = 15_000): Promise<UnitState[]> {
  const seen: UnitState[] = [];
  const end = Date.now() + deadlineMs;
  for (;;) {
    const s = await state(unit);
    seen.push(s);
    if (done(s)) return seen;
    if (Date.now() > end) assert.fail(`${unit} did not reach the expected state within ${deadlineMs} ms; seen: ${JSON.stringify(seen)}`);
  }
}

describe("systemd adapter against a real user manager", () => {
  before(async () => {
    sandbox = await startSandbox();
    for (const [name, text] of Object.entries(UNIT_FILES)) await writeUnitFile(name, text);
    await values([["reload"]]);
  });

  after(async () => {
    await sandbox?.stop();
  });

  test("an address with nothing behind it: ManagerUnreachableError, exit code 10, and the process exits", async () => {
    const out = await drive([["list", "*"]], { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" });
    assert.equal(out.code, ExitCode.managerUnreachable);
    assert.equal(out.error?.name, "ManagerUnreachableError");
    assert.match(out.error?.message ?? "", /nonexistent\/bus/);
  });

  test("in process: a bad address, no address, and root on the user's bus all reject with ManagerUnreachableError", async () => {
    await assert.rejects(connectSystemd({ DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" }), ManagerUnreachableError);
    await assert.rejects(connectSystemd({}), ManagerUnreachableError);
    await assert.rejects(connectSystemd({ DBUS_SESSION_BUS_ADDRESS: "not-an-address" }), ManagerUnreachableError);
    // The user's dbus-daemon completes auth, then hangs up on root: this must fail fast, not wait for a timeout.
    const t0 = Date.now();
    await assert.rejects(
      connectSystemd({ ...sandbox.env }, { connectTimeoutMs: 10_000 }),
      (err: unknown) => err instanceof ManagerUnreachableError && err.exitCode === ExitCode.managerUnreachable,
    );
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
  });

  test("XDG_RUNTIME_DIR alone is enough to find the bus", async () => {
    const out = await drive([["unitFileState", `${SVC}@x.service`]], { DBUS_SESSION_BUS_ADDRESS: "" });
    assert.equal(out.code, 0, JSON.stringify(out));
    const r = out.results?.[0];
    assert.ok(r?.ok, JSON.stringify(out));
    assert.equal(r.value, "disabled");
  });

  test("state() of a never-started instance: loaded, inactive, dead, no pid", async () => {
    const s = await state(`${SVC}@never.service`);
    assert.equal(s.name, `${SVC}@never.service`);
    assert.equal(s.loadState, "loaded");
    assert.equal(s.activeState, "inactive");
    assert.equal(s.subState, "dead");
    assert.equal(s.mainPid, 0);
    assert.equal(s.nRestarts, 0);
    assert.equal(typeof s.execMainCode, "number");
  });

  test("start, restart, stop of a template instance each wait for their job", async () => {
    const unit = `${SVC}@one.service`;
    const [started, up] = (await values([["start", unit], ["state", unit]])) as [string, UnitState];
    assert.equal(started, "done");
    assert.equal(up.activeState, "active");
    assert.equal(up.subState, "running");
    assert.ok(up.mainPid > 0);

    const [restarted, again] = (await values([["restart", unit], ["state", unit]])) as [string, UnitState];
    assert.equal(restarted, "done");
    assert.equal(again.activeState, "active");
    assert.ok(again.mainPid > 0 && again.mainPid !== up.mainPid, `pid ${up.mainPid} -> ${again.mainPid}`);

    const [stopped, down] = (await values([["stop", unit], ["state", unit]])) as [string, UnitState];
    assert.equal(stopped, "done");
    assert.equal(down.activeState, "inactive");
    assert.equal(down.mainPid, 0);
  });

  test("onUnitChange tells of a unit's state changes (its signals, not only its job's end) until it is stopped", async () => {
    const unit = `${SVC}@changes.service`;
    await values([["start", unit]]);
    const [told] = (await values([["changes", unit, "stop"]])) as [{ during: number; after: number }];
    // active -> deactivating -> inactive are two PropertiesChanged; the job's JobRemoved is one more.
    assert.ok(told.during >= 2, `told ${told.during} time(s) during the stop`);
    assert.equal(told.after, 0, "told after the watch stopped");
    await values([["stop", unit]]);
  });

  test("a service that exits at once: its job says done, its state shows the failure", async (t) => {
    const unit = `${FAIL}@crash.service`;
    assert.equal(await values([["start", unit]]).then(([r]) => r), "done");
    const seen = await pollState(unit, (s) => s.activeState === "failed");
    t.diagnostic(`seen: ${seen.map((s) => `${s.activeState}/${s.subState} NRestarts=${s.nRestarts} Result=${s.result}`).join(", ")}`);
    const last = seen.at(-1)!;
    // The start limit ends the restarts, but Result keeps the first failure: the exit code.
    assert.equal(last.result, "exit-code");
    assert.ok(last.nRestarts >= 1, `NRestarts ${last.nRestarts}`);
    assert.equal(last.execMainCode, 1); // CLD_EXITED
    assert.equal(last.execMainStatus, 1);
    assert.equal(last.mainPid, 0);

    await values([["resetFailed", unit]]);
    const reset = await state(unit);
    assert.equal(reset.activeState, "inactive");
    assert.equal(reset.result, "success");
  });

  test("resetFailed of a unit the manager does not know is no error", async () => {
    const r = await one(["resetFailed", "aptest-never-heard-of.service"]);
    assert.ok(r.ok, JSON.stringify(r));
  });

  test("start of a unit with no unit file: SystemdError with the bus error name", async () => {
    const r = await one(["start", "aptest-no-such-file.service"]);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.error.name, "SystemdError");
    assert.equal(r.error.exitCode, ExitCode.systemd);
    assert.equal(r.error.busName, NO_SUCH_UNIT);
  });

  test("every job gets its result, also when JobRemoved comes in the same socket read as the reply", async () => {
    // Stopping an inactive unit ends its job at once: its JobRemoved often shares a read with the reply,
    // and is handled before the caller has the job path.
    const units = Array.from({ length: 100 }, (_, i) => `${SVC}@idle-${i}.service`);
    const one = await values(units.map((u): DriverStep => ["stop", u, 5_000]));
    assert.deepEqual(one, units.map(() => "done"));
    const [all] = await values([["all", units.map((u): DriverStep => ["stop", u, 5_000])]]);
    assert.deepEqual(all, units.map(() => "done"));
  });

  test("two starts of one unit at once share systemd's job, and both get its result", async () => {
    const unit = `${BRIEF}@twice.service`;
    const [both] = await values([["all", [["start", unit, 10_000], ["start", unit, 10_000]]]]);
    assert.deepEqual(both, ["done", "done"]);
  });

  test("a job past its deadline rejects with a SystemdError naming the unit and the deadline", async () => {
    const unit = `${SLOW}@late.service`;
    const out = await drive([["start", unit, 300], ["stop", unit]]);
    const [start, stop] = out.results ?? [];
    assert.ok(start && !start.ok, JSON.stringify(out));
    assert.equal(start.error.name, "SystemdError");
    assert.match(start.error.message, new RegExp(`${unit}.*300 ms`));
    assert.ok(stop?.ok, JSON.stringify(stop));
  });

  test("list() with a pattern returns exactly the units it matches, with service properties", async () => {
    const units = ["a", "b", "c"].map((i) => `${SVC}@list-${i}.service`);
    await values(units.map((u): DriverStep => ["start", u]));
    const [listed, none] = (await values([["list", `${SVC}@list-*.service`], ["list", "aptest-nothing-*.service"]])) as [UnitState[], UnitState[]];
    assert.deepEqual(listed.map((s) => s.name).sort(), units);
    for (const s of listed) {
      assert.equal(s.loadState, "loaded");
      assert.equal(s.activeState, "active");
      assert.equal(s.subState, "running");
      assert.ok(s.mainPid > 0);
      assert.ok(!("unitFileState" in s), "list() asks no unit file state: it is asked fresh, by unitFileState()");
    }
    assert.deepEqual(none, []);
    await values(units.map((u): DriverStep => ["stop", u]));
  });

  test("the service properties state() infers from a unit's state are what the manager says", async () => {
    // readState() does not ask a running service for Result and its exit status, nor a stopped one for
    // its PID: systemd resets them when it starts the main process. Check that against the manager.
    const asked = ["MainPID", "NRestarts", "Result", "ExecMainStatus", "ExecMainCode"];
    const running = `${CRASHY}@again.service`;
    await values([["start", running]]);
    const [first] = (await values([["state", running]])) as [UnitState];
    process.kill(first.mainPid, "SIGKILL");
    await pollState(running, (s) => s.subState === "running" && s.mainPid !== first.mainPid && s.nRestarts === 1);
    const failed = `${EXIT3}@three.service`;
    await values([["start", failed]]);
    await pollState(failed, (s) => s.activeState === "failed");
    const never = `${EXIT3}@never.service`;
    for (const unit of [running, failed, never]) {
      const [[s, run, props]] = (await values([["all", [["state", unit], ["runState", unit], ["properties", unit, ...asked]]]])) as [[UnitState, RunState, Record<string, unknown>]];
      assert.deepEqual(
        { MainPID: s.mainPid, NRestarts: s.nRestarts, Result: s.result, ExecMainStatus: s.execMainStatus, ExecMainCode: s.execMainCode },
        props,
        `${unit} (${s.activeState}/${s.subState})`,
      );
      const { loadState: _l, ...fromState } = s;
      assert.deepEqual(run, fromState, `runState of ${unit}`);
    }
    const [[r], [f]] = (await values([["list", running], ["list", failed]])) as [UnitState[], UnitState[]];
    assert.deepEqual([r!.result, r!.execMainCode, r!.nRestarts], ["success", 0, 1]);
    assert.deepEqual([f!.result, f!.execMainCode, f!.execMainStatus, f!.mainPid], ["exit-code", 1, 3, 0]);
    await values([["stop", running], ["resetFailed", failed]]);
  });

  test("enable and disable an instance; unitFileState follows its symlink", async () => {
    const unit = `${SVC}@boot.service`;
    const link = join(sandbox.home, ".config/systemd/user/default.target.wants", unit);
    const [before, , enabled, , disabled, missing] = await values([
      ["unitFileState", unit],
      ["enable", unit],
      ["unitFileState", unit],
      ["disable", unit],
      ["unitFileState", unit],
      ["unitFileState", "aptest-no-such-file.service"],
    ]);
    assert.equal(before, "disabled");
    assert.equal(enabled, "enabled");
    assert.equal(disabled, "disabled");
    assert.equal(missing, "not-found");
    const gone = await sandbox.exec("test", ["-e", link]);
    assert.notEqual(gone.code, 0, `${link} is still there`);

    const bad = await one(["enable", "aptest-no-such-file.service"]);
    assert.ok(!bad.ok);
    assert.equal(bad.error.busName, NO_SUCH_UNIT);
  });

  test("enable leaves the symlink in default.target.wants", async () => {
    const unit = `${SVC}@linked.service`;
    await values([["enable", unit]]);
    const link = join(sandbox.home, ".config/systemd/user/default.target.wants", unit);
    const r = await sandbox.exec("readlink", [link]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), new RegExp(`${SVC}@\\.service$`));
    await values([["disable", unit]]);
  });

  test("reload() answers only after the reload: a unit file changed just before is seen right after", async () => {
    const unit = `${RELOAD}@r.service`;
    const body = "[Service]\nExecStart=/bin/sleep infinity\n";
    await writeUnitFile(`${RELOAD}@.service`, body);
    await values([["reload"]]);
    // A running unit stays loaded, so what we read after the reload cannot be a fresh load from disk.
    const fileState: DriverStep = ["properties", unit, "UnitFileState"];
    const [, first] = (await values([["start", unit], fileState])) as [string, { UnitFileState: string }];
    assert.equal(first.UnitFileState, "static");
    await writeUnitFile(`${RELOAD}@.service`, `${body}\n[Install]\nWantedBy=default.target\n`);
    const [stale, , fresh] = (await values([fileState, ["reload"], fileState])) as [{ UnitFileState: string }, null, { UnitFileState: string }];
    assert.equal(stale.UnitFileState, "static");
    assert.equal(fresh.UnitFileState, "disabled");
    await values([["stop", unit]]);
  });

  test("timing: connect, then list() of 50 running instances", async (t) => {
    const units = Array.from({ length: 50 }, (_, i) => `${SVC}@perf-${i}.service`);
    await values(units.map((u): DriverStep => ["start", u]));
    const out = await drive([["list", `${SVC}@perf-*.service`], ["list", `${SVC}@perf-1?.service`], ["list", `${SVC}@perf-*.service`]]);
    assert.equal(out.code, 0);
    const [cold, ten, warm] = out.results ?? [];
    assert.ok(cold?.ok && ten?.ok && warm?.ok, JSON.stringify(out).slice(0, 2000));
    assert.equal((cold.value as UnitState[]).length, 50);
    assert.equal((ten.value as UnitState[]).length, 10);
    t.diagnostic(`connect ${out.connectMs} ms; list of 50: ${cold.ms} ms first, ${warm.ms} ms again; list of 10: ${ten.ms} ms`);
    await values(units.map((u): DriverStep => ["stop", u]));
  });
});

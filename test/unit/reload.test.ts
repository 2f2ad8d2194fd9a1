import { test } from "node:test";
import assert from "node:assert/strict";
import add from "../../src/commands/add.js";
import reload from "../../src/commands/reload.js";
import roll from "../../src/commands/roll.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const hasCode = (code: number) => (err: unknown) => err instanceof AppError && err.exitCode === code;
const rollArgs = (over: Record<string, unknown> = {}) => ({ ...g, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, dryRun: false, reload: true, ...over });

async function world(names = ["a", "b"]) {
  const w = await fakeWorld();
  for (const n of names) await add.run({ ...g, name: n, start: true, wait: 5 }, w.ctx);
  w.systemd.calls.length = 0;
  return w;
}

test("reload: the reload job, then a passing probe; the PID stays", async () => {
  const w = await world();
  try {
    const pid = w.systemd.units.get("agent-gateway@a.service")!.mainPid;
    const r = await reload.run({ ...g, names: ["a"], wait: 5 }, w.ctx);
    assert.equal(r.exitCode, ExitCode.ok);
    assert.deepEqual(w.systemd.calls, ["reload agent-gateway@a.service"]);
    assert.deepEqual(r.data, [{ name: "a", ok: true, pidBefore: pid, pid, elapsedMs: (r.data as { elapsedMs: number }[])[0]!.elapsedMs, error: null }]);
    assert.match(r.text, /reloaded a \(pid \d+, unchanged\), healthy/);
  } finally {
    await w.cleanup();
  }
});

test("reload: refused with exit 2 when the template has no reload command; nothing reloaded or written", async () => {
  const w = await world();
  try {
    w.systemd.props.set("agent-gateway@b.service", { CanReload: false });
    const before = await snapshot(w.home);
    await assert.rejects(reload.run({ ...g, names: ["a", "b"], wait: 5 }, w.ctx), (err: unknown) => hasCode(ExitCode.usage)(err) && /no reload command \(ExecReload=\)/.test((err as Error).message) && /--reload-signal HUP/.test((err as AppError).hint ?? ""));
    await assert.rejects(roll.run(rollArgs() as never, w.ctx), hasCode(ExitCode.usage));
    assert.deepEqual(w.systemd.calls, []);
    assert.deepEqual(await snapshot(w.home), before);
  } finally {
    await w.cleanup();
  }
});

test("reload: a stopped profile, an unhealthy reload, bad names: each says why", async () => {
  const w = await world();
  try {
    await w.systemd.stop("agent-gateway@b.service");
    const stopped = await reload.run({ ...g, names: ["b"], wait: 5 }, w.ctx);
    assert.equal(stopped.exitCode, ExitCode.unhealthy);
    assert.match(stopped.text, /b: not running \(inactive\/dead\).*profiles start b/);
    w.prober.respond = () => ({ ok: false, reason: "status 500", status: 500, latencyMs: 1 });
    const sick = await reload.run({ ...g, names: ["a"], wait: 0.3 }, w.ctx);
    assert.equal(sick.exitCode, ExitCode.unhealthy);
    assert.match(sick.text, /not healthy within .*health status 500/);
    await assert.rejects(reload.run({ ...g, names: ["Bad Name"], wait: 5 }, w.ctx), hasCode(ExitCode.usage));
    await assert.rejects(reload.run({ ...g, names: ["nosuch"], wait: 5 }, w.ctx), hasCode(ExitCode.notFound));
    await assert.rejects(reload.run({ ...g, names: ["a"], wait: 0 }, w.ctx), hasCode(ExitCode.usage));
  } finally {
    await w.cleanup();
  }
});

test("roll --reload: reloads instead of restarts, gated; PIDs unchanged", async () => {
  const w = await world(["a", "b", "c"]);
  try {
    const pids = [...w.systemd.units.values()].map((s) => s.mainPid);
    const r = await roll.run(rollArgs() as never, w.ctx);
    assert.equal(r.exitCode, ExitCode.ok);
    assert.deepEqual(w.systemd.calls.filter((c) => !c.startsWith("reset")), ["reload agent-gateway@a.service", "reload agent-gateway@b.service", "reload agent-gateway@c.service"]);
    assert.deepEqual([...w.systemd.units.values()].map((s) => s.mainPid), pids);
  } finally {
    await w.cleanup();
  }
});

test("roll --reload: a profile unhealthy after its reload is reverted by a restart and the roll halts", async () => {
  const w = await world(["a", "b"]);
  try {
    let broken = true;
    w.systemd.onReload = () => undefined;
    w.prober.respond = (t) => (broken && t.port === 8600 ? { ok: false, reason: "status 500", status: 500, latencyMs: 1 } : undefined);
    w.systemd.onStart = () => {
      broken = false;
    };
    // Generation 2 differs from known-good 1, so there is something to revert to.
    const { commitEnvText } = await import("../../src/store/generations.js");
    const fs = await import("node:fs");
    const { envFile } = await import("../../src/paths.js");
    await commitEnvText(w.ctx.paths, "a", `${fs.readFileSync(envFile(w.ctx.paths, "a"), "utf8")}GREETING="x"\n`, "set (test)");
    const r = await roll.run(rollArgs() as never, w.ctx);
    assert.equal(r.exitCode, ExitCode.rollHalted);
    assert.deepEqual(w.systemd.calls.filter((c) => !c.startsWith("reset")), ["reload agent-gateway@a.service", "restart agent-gateway@a.service", "start agent-gateway@a.service"]);
  } finally {
    await w.cleanup();
  }
});

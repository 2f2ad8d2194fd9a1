import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import init from "../../src/commands/init.js";
import list from "../../src/commands/list.js";
import remove from "../../src/commands/remove.js";
import { profileExists } from "../../src/store/profiles.js";
import status from "../../src/commands/status.js";
import { start } from "../../src/commands/start.js";
import set from "../../src/commands/set.js";
import { disable, enable } from "../../src/commands/enable.js";
import { ExitCode, AppError, ProfileDisabledError, SystemdError } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { unitName } from "../../src/systemd/types.js";
import { parseEnv } from "../../src/store/envfile.js";
import { createContext } from "../../src/core/context.js";
import { limitsDropIn, writeLimits } from "../../src/store/limits.js";
import { fakeWorld, snapshot, FakeSystemd } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const addArgs = (name: string, extra: Record<string, unknown> = {}) => ({ ...g, name, start: true, wait: 5, ...extra });

function hasCode(code: number) {
  return (err: unknown) => err instanceof AppError && err.exitCode === code;
}

test("add: lowest free port of the range, .env 0600 in a 0700 dir, enabled and started", async () => {
  const w = await fakeWorld({ portRange: { from: 9100, to: 9102 } });
  try {
    w.ports.listeners.set(9100, { port: 9100, pid: 1, command: "nginx" });
    const r = await add.run(addArgs("liam", { env: ["LOG_LEVEL=debug"] }), w.ctx);
    assert.deepEqual((r.data as { port: number }).port, 9101);
    const file = envFile(w.ctx.paths, "liam");
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.dirname(file))).mode & 0o777, 0o700);
    assert.deepEqual([...parseEnv(await fs.readFile(file, "utf8")).entries], [["PORT", "9101"], ["LOG_LEVEL", "debug"]]);
    assert.ok(w.systemd.enabled.has("agent-gateway@liam.service"));
    assert.deepEqual(w.prober.seen.map((t) => [t.host, t.port, t.path]), [["127.0.0.1", 9101, "/health"]]);
    const second = await add.run(addArgs("ops"), w.ctx);
    assert.equal((second.data as { port: number }).port, 9102);
    await assert.rejects(add.run(addArgs("full"), w.ctx), hasCode(ExitCode.rangeExhausted));
  } finally {
    await w.cleanup();
  }
});

test("add: the unit is enabled before its .env makes it a profile; a commit that fails disables it again", async () => {
  const w = await fakeWorld({ portRange: { from: 9100, to: 9102 } });
  try {
    const unit = "agent-gateway@kim.service";
    const file = envFile(w.ctx.paths, "kim");
    let envAtEnable: boolean | null = null;
    const enableOf = w.systemd.enable.bind(w.systemd);
    // A SIGKILL between the two steps leaves what was done first: it must not be a profile without its enable.
    w.systemd.enable = async (units) => {
      envAtEnable = await fs.stat(file).then(() => true, () => false);
      return enableOf(units);
    };
    await add.run(addArgs("kim", { start: false }), w.ctx);
    assert.equal(envAtEnable, false, "enabled before the .env was written");
    assert.ok(w.systemd.enabled.has(unit));
    // A commit that fails (a full disk at index.json, its last write): no profile, and not left enabled.
    const rename = fs.rename;
    fs.rename = async (from, to) => {
      if (path.basename(String(to)) === "index.json") throw Object.assign(new Error("ENOSPC: no space left on device, rename"), { code: "ENOSPC", syscall: "rename" });
      return rename(from, to);
    };
    try {
      await assert.rejects(add.run(addArgs("lou", { start: false }), w.ctx), hasCode(ExitCode.fileSystem));
    } finally {
      fs.rename = rename;
    }
    await assert.rejects(fs.stat(envFile(w.ctx.paths, "lou")));
    assert.ok(!w.systemd.enabled.has("agent-gateway@lou.service"));
    assert.deepEqual(w.systemd.calls.slice(-2), ["enable agent-gateway@lou.service", "disable agent-gateway@lou.service"]);
  } finally {
    await w.cleanup();
  }
});

test("add: every bad input has its exit code and writes nothing", async () => {
  const w = await fakeWorld({ portRange: { from: 9200, to: 9210 } });
  try {
    await add.run(addArgs("taken", { port: "9200" }), w.ctx);
    w.ports.listeners.set(9205, { port: 9205, pid: 4242, command: "python3" });
    const before = await snapshot(w.home);
    const calls = w.systemd.calls.length;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ name: "../x" }, ExitCode.usage, /invalid profile name/],
      [{ name: "Liam" }, ExitCode.usage, /1-32 characters/],
      [{ name: "ok", port: "80" }, ExitCode.usage, /1024 to 65535/],
      [{ name: "ok", port: "70000" }, ExitCode.usage, /1024 to 65535/],
      [{ name: "ok", port: "12ab" }, ExitCode.usage, /1024 to 65535/],
      [{ name: "ok", env: ["NOEQUALS"] }, ExitCode.usage, /not KEY=VALUE/],
      [{ name: "ok", env: ["A=1\n2"] }, ExitCode.usage, /line break/],
      [{ name: "ok", env: ["PORT=9300"] }, ExitCode.usage, /use --port/],
      [{ name: "taken" }, ExitCode.exists, /already exists/],
      [{ name: "ok", port: "9200" }, ExitCode.portTaken, /profile "taken"/],
      [{ name: "ok", port: "9205" }, ExitCode.portTaken, /process 4242 \(python3\)/],
    ];
    for (const [extra, code, message] of cases) {
      const args = addArgs(extra.name as string, extra);
      await assert.rejects(add.run(args, w.ctx), (err: unknown) => hasCode(code)(err) && message.test((err as Error).message), JSON.stringify(extra));
    }
    assert.deepEqual(await snapshot(w.home), before);
    assert.equal(w.systemd.calls.length, calls);
  } finally {
    await w.cleanup();
  }
});

test("add: a gateway that dies right after a 'done' start is reported unhealthy, with the exit status", async () => {
  const w = await fakeWorld();
  try {
    w.systemd.crashing.add("agent-gateway@bad.service");
    await assert.rejects(add.run(addArgs("bad"), w.ctx), (err: unknown) => hasCode(ExitCode.unhealthy)(err) && /exited with status 78/.test((err as Error).message));
    w.prober.verdicts.set(8601, { ok: false, reason: "status 500", status: 500, latencyMs: 1 });
    await assert.rejects(add.run(addArgs("sick", { wait: 0.3 }), w.ctx), (err: unknown) => hasCode(ExitCode.unhealthy)(err) && /health status 500/.test((err as Error).message));
  } finally {
    await w.cleanup();
  }
});

test("list, status and start against the fake manager", async () => {
  const w = await fakeWorld();
  try {
    await add.run(addArgs("a"), w.ctx);
    await add.run(addArgs("b", { start: false }), w.ctx);
    const rows = (await list.run(g, w.ctx)).data as { name: string; port: number; activeState: string; enabled: boolean }[];
    // --no-start enables the unit all the same: only `disable` keeps a profile down.
    assert.deepEqual(rows.map((r) => [r.name, r.port, r.activeState, r.enabled]), [["a", 8600, "active", true], ["b", 8601, "inactive", true]]);
    const st = await status.run({ ...g }, w.ctx);
    assert.equal(st.exitCode, ExitCode.unhealthy);
    const started = await start.run({ ...g, names: ["b"], wait: 5 }, w.ctx);
    assert.equal(started.exitCode, ExitCode.ok);
    assert.equal((await status.run({ ...g, name: "b" }, w.ctx)).exitCode, ExitCode.ok);

    // disable: stopped and disabled; shown as such, not unhealthy; start refuses it (2) and starts nothing.
    assert.equal((await disable.run({ ...g, names: ["b"], wait: 5 }, w.ctx)).exitCode, ExitCode.ok);
    assert.ok(w.systemd.calls.includes(`disable ${unitName("b")}`));
    const after = (await list.run(g, w.ctx)).data as { name: string; activeState: string; enabled: boolean; disabled: boolean }[];
    assert.deepEqual(after.map((r) => [r.name, r.activeState, r.enabled, r.disabled]), [["a", "active", true, false], ["b", "inactive", false, true]]);
    assert.equal((await status.run({ ...g }, w.ctx)).exitCode, ExitCode.ok);
    const calls = w.systemd.calls.length;
    await assert.rejects(start.run({ ...g, names: ["a", "b"], wait: 5 }, w.ctx), (err: unknown) => err instanceof ProfileDisabledError && err.exitCode === ExitCode.usage && /profiles enable b/.test(err.hint ?? ""));
    assert.equal(w.systemd.calls.slice(calls).filter((c) => c.startsWith("start") || c.startsWith("restart")).length, 0, "nothing started");
    // set --restart and rollback of a disabled profile: refused before anything is written.
    const envBefore = await fs.readFile(envFile(w.ctx.paths, "b"), "utf8");
    await assert.rejects(set.run({ ...g, name: "b", pairs: ["X=1"], restart: true, wait: 5 }, w.ctx), (err: unknown) => err instanceof ProfileDisabledError);
    assert.equal(await fs.readFile(envFile(w.ctx.paths, "b"), "utf8"), envBefore);
    // enable: enabled and started through the gate.
    const enabled = await enable.run({ ...g, names: ["b"], wait: 5 }, w.ctx);
    assert.equal(enabled.exitCode, ExitCode.ok);
    assert.equal(((await list.run(g, w.ctx)).data as { enabled: boolean; activeState: string }[])[1]!.enabled, true);
    assert.equal((await status.run({ ...g, name: "b" }, w.ctx)).exitCode, ExitCode.ok);
    await assert.rejects(start.run({ ...g, names: ["nope"], wait: 5 }, w.ctx), hasCode(ExitCode.notFound));
  } finally {
    await w.cleanup();
  }
});

test("remove keeps the .env in the state directory unless --purge", async () => {
  const w = await fakeWorld();
  try {
    await add.run(addArgs("keep", { env: ["API_KEY=s3cret"] }), w.ctx);
    await add.run(addArgs("gone"), w.ctx);
    const kept = (await remove.run({ ...g, name: "keep", purge: false }, w.ctx)).data as { keptEnv: string };
    assert.ok(kept.keptEnv.startsWith(w.ctx.paths.removedDir));
    assert.match(await fs.readFile(kept.keptEnv, "utf8"), /API_KEY="s3cret"/);
    assert.equal((await fs.stat(kept.keptEnv)).mode & 0o777, 0o600);
    await writeLimits(w.ctx.paths, "gone", { MemoryMax: "512M" });
    const reloads = w.systemd.reloads;
    await remove.run({ ...g, name: "gone", purge: true }, w.ctx);
    assert.deepEqual(await fs.readdir(w.ctx.paths.profilesDir), []);
    // A later profile of the same name must not inherit the old limits' drop-in.
    await assert.rejects(fs.access(path.dirname(limitsDropIn(w.ctx.paths, "gone"))));
    assert.equal(w.systemd.reloads, reloads + 1);
    assert.ok(!w.systemd.enabled.has("agent-gateway@keep.service"));
    await assert.rejects(remove.run({ ...g, name: "keep", purge: false }, w.ctx), hasCode(ExitCode.notFound));
  } finally {
    await w.cleanup();
  }
});

test("remove of a name that is no profile: its enabled or running unit (a killed add's) stopped and disabled, else exit 3", async () => {
  const w = await fakeWorld();
  try {
    // Neither a profile nor a unit: exit 3 with nothing written, not even a lock file.
    await assert.rejects(remove.run({ ...g, name: "nobody", purge: false }, w.ctx), hasCode(ExitCode.notFound));
    await assert.rejects(fs.access(w.ctx.paths.locksDir), "remove of nothing made the locks directory");
    // What an add killed between its enable and its .env leaves: the unit enabled, no profile.
    await w.systemd.enable(["agent-gateway@ghost.service"]);
    const r = await remove.run({ ...g, name: "ghost", purge: false }, w.ctx);
    assert.deepEqual(r.data, { name: "ghost", removed: true, keptEnv: null, keptLogs: [], strayUnit: true });
    assert.match(r.text ?? "", /ghost was no profile, but its unit agent-gateway@ghost\.service was enabled or running: stopped and disabled it/);
    assert.ok(!w.systemd.enabled.has("agent-gateway@ghost.service"));
    assert.equal(await profileExists(w.ctx.paths, "ghost"), false, "no profile made for it");
    // Started by hand, not enabled.
    w.systemd.units.set("agent-gateway@hand.service", { ...(await w.systemd.state("agent-gateway@hand.service")), activeState: "active", subState: "running", mainPid: 4321 });
    assert.equal(((await remove.run({ ...g, name: "hand", purge: false }, w.ctx)).data as { strayUnit: boolean }).strayUnit, true);
    assert.equal((await w.systemd.state("agent-gateway@hand.service")).activeState, "inactive");
    // Nothing of the name: as before, no such profile; and a failed unit at rest is no reason to act either.
    await assert.rejects(remove.run({ ...g, name: "ghost", purge: false }, w.ctx), hasCode(ExitCode.notFound));
    w.systemd.units.set("agent-gateway@old.service", { ...(await w.systemd.state("agent-gateway@old.service")), activeState: "failed", subState: "failed" });
    await assert.rejects(remove.run({ ...g, name: "old", purge: false }, w.ctx), hasCode(ExitCode.notFound));
    // Enabled at runtime (`systemctl --user enable --runtime`): DisableUnitFiles leaves such a link unless asked.
    w.systemd.runtimeEnabled.add("agent-gateway@rt.service");
    assert.equal(((await remove.run({ ...g, name: "rt", purge: false }, w.ctx)).data as { strayUnit: boolean }).strayUnit, true);
    assert.equal(await w.systemd.unitFileState("agent-gateway@rt.service"), "disabled");
    assert.ok(w.systemd.calls.includes("disable --runtime agent-gateway@rt.service"), w.systemd.calls.join("\n"));
    // Enabled by a link this user cannot remove (`systemctl --global enable`, under /etc): said, with root's command.
    const fileState = w.systemd.unitFileState.bind(w.systemd);
    w.systemd.unitFileState = async (unit) => (unit === "agent-gateway@glob.service" ? "enabled" : fileState(unit));
    await assert.rejects(remove.run({ ...g, name: "glob", purge: false }, w.ctx), (err: unknown) => {
      assert.ok(err instanceof SystemdError, String(err));
      assert.equal(err.message, "glob: its unit agent-gateway@glob.service is stopped, but enabled by a link outside your unit directories; it is still enabled");
      assert.equal(err.hint, "ask root to run `systemctl --global disable agent-gateway@glob.service`");
      return true;
    });
  } finally {
    await w.cleanup();
  }
});

test("init: absolute ExecStart, safe to rerun, bad flags change nothing", async () => {
  const w = await fakeWorld();
  try {
    await fs.rm(w.ctx.paths.configFile);
    const sd = new FakeSystemd();
    const ctx = createContext({ env: w.ctx.env, json: true, systemd: async () => sd, progress: () => {} });
    const first = await init.run({ ...g }, ctx);
    const unit = await fs.readFile(path.join(w.ctx.paths.unitDir, "agent-gateway@.service"), "utf8");
    assert.match(unit, new RegExp(`^ExecStart="${process.execPath}" ".*/dist/src/gateway/main.js" "--port-var" "PORT"$`, "m"));
    assert.match(unit, /^EnvironmentFile=%E\/agent-profiles\/profiles\/%i\/\.env$/m);
    assert.equal((first.data as { created: boolean }).created, true);
    await init.run({ ...g, range: "9000-9099", logDir: path.join(w.home, "logs") }, ctx);
    const again = await init.run({ ...g }, ctx);
    assert.equal((again.data as { portRange: string }).portRange, "9000-9099");
    assert.match(await fs.readFile(path.join(w.ctx.paths.unitDir, "agent-gateway@.service"), "utf8"), /StandardOutput=append:.*\/logs\/%i\.log/);
    // The third run changed no unit file, so it left the manager alone.
    assert.equal(sd.reloads, 2);
    const before = await snapshot(w.home);
    for (const bad of [{ range: "80-90" }, { portVar: "1X" }, { healthPath: "health" }, { exec: "no-such-gateway-xyz" }, { logDir: "relative/dir" }]) {
      await assert.rejects(init.run({ ...g, ...bad }, ctx), hasCode(ExitCode.usage), JSON.stringify(bad));
    }
    assert.deepEqual(await snapshot(w.home), before);
    assert.equal(sd.reloads, 2);
  } finally {
    await w.cleanup();
  }
});

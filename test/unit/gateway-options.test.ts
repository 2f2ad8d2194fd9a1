import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import init from "../../src/commands/init.js";
import { DEFAULT_CONFIG, loadConfig } from "../../src/config.js";
import { createContext } from "../../src/core/context.js";
import { execVarProblem, execVars } from "../../src/core/gateway-unit.js";
import { healthTarget } from "../../src/core/health-target.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { getUnitKey } from "../../src/systemd/unit-file.js";
import { fakeWorld, snapshot, FakeSystemd } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const hasCode = (code: number) => (err: unknown) => err instanceof AppError && err.exitCode === code;

async function initWorld() {
  const w = await fakeWorld();
  await fs.rm(w.ctx.paths.configFile);
  const sd = new FakeSystemd();
  const ctx = createContext({ env: w.ctx.env, json: true, systemd: async () => sd, progress: () => {} });
  const unit = async () => fs.readFile(path.join(w.ctx.paths.unitDir, "agent-gateway@.service"), "utf8");
  return { w, sd, ctx, unit };
}

test("init: defaults render Type=simple, TimeoutStopSec=15 and no ExecReload", async () => {
  const { w, ctx, unit } = await initWorld();
  try {
    const r = await init.run({ ...g }, ctx);
    const text = await unit();
    assert.deepEqual(getUnitKey(text, "Service", "Type"), ["simple"]);
    assert.deepEqual(getUnitKey(text, "Service", "TimeoutStopSec"), ["15"]);
    assert.deepEqual(getUnitKey(text, "Service", "ExecReload"), []);
    const data = r.data as { hostVar: string; serviceType: string; stopTimeoutSec: number; reloadSignal: string | null };
    assert.deepEqual([data.hostVar, data.serviceType, data.stopTimeoutSec, data.reloadSignal], ["HOST", "simple", 15, null]);
  } finally {
    await w.cleanup();
  }
});

test("init: gateway options are rendered, kept in config.ini and kept by a rerun", async () => {
  const { w, ctx, unit } = await initWorld();
  try {
    await init.run({ ...g, exec: "/bin/sleep --port ${API_PORT} %i", portVar: "API_PORT", hostVar: "API_HOST", serviceType: "notify", stopTimeout: "40", reloadSignal: "SIGHUP" }, ctx);
    let text = await unit();
    assert.deepEqual(getUnitKey(text, "Service", "Type"), ["notify"]);
    assert.deepEqual(getUnitKey(text, "Service", "TimeoutStopSec"), ["40"]);
    assert.deepEqual(getUnitKey(text, "Service", "ExecStart"), ['"/bin/sleep" --port ${API_PORT} %i']);
    assert.match(getUnitKey(text, "Service", "ExecReload")[0] ?? "", /^\/(usr\/)?bin\/kill -s HUP \$MAINPID$/);
    const config = await loadConfig(ctx.paths);
    assert.deepEqual([config.hostVar, config.serviceType, config.stopTimeoutSec, config.reloadSignal], ["API_HOST", "notify", 40, "HUP"]);
    // A rerun without those flags keeps them; "" clears the reload signal.
    await init.run({ ...g, reloadSignal: "" }, ctx);
    text = await unit();
    assert.deepEqual(getUnitKey(text, "Service", "Type"), ["notify"]);
    assert.deepEqual(getUnitKey(text, "Service", "ExecReload"), []);
    assert.equal((await loadConfig(ctx.paths)).hostVar, "API_HOST");
  } finally {
    await w.cleanup();
  }
});

test("init: the reference gateway is told a host variable other than HOST", async () => {
  const { w, ctx, unit } = await initWorld();
  try {
    await init.run({ ...g, hostVar: "BIND_HOST" }, ctx);
    assert.match(getUnitKey(await unit(), "Service", "ExecStart")[0] ?? "", /"--port-var" "PORT" "--host-var" "BIND_HOST"$/);
  } finally {
    await w.cleanup();
  }
});

test("init: a bad gateway option exits 2 and writes nothing", async () => {
  const { w, sd, ctx } = await initWorld();
  try {
    await init.run({ ...g }, ctx);
    const before = await snapshot(w.home);
    const reloads = sd.reloads;
    const bad = [
      { serviceType: "forking" },
      { serviceType: "" },
      { stopTimeout: "0" },
      { stopTimeout: "1.5" },
      { stopTimeout: "abc" },
      { stopTimeout: "" },
      { stopTimeout: "99999" },
      { reloadSignal: "KILL" },
      { reloadSignal: "TERM" },
      { hostVar: "API-HOST" },
      { hostVar: "" },
      { exec: "/bin/sleep --port ${API-PORT}" },
      { exec: "/bin/sleep --port ${PORT:-8000}" },
      { exec: "/bin/sleep --port ${PORT" },
    ];
    for (const b of bad) {
      await assert.rejects(init.run({ ...g, ...b }, ctx), hasCode(ExitCode.usage), JSON.stringify(b));
    }
    assert.deepEqual(await snapshot(w.home), before);
    assert.equal(sd.reloads, reloads);
  } finally {
    await w.cleanup();
  }
});

test("init: an error names the rule", async () => {
  const { w, ctx } = await initWorld();
  try {
    await assert.rejects(init.run({ ...g, serviceType: "forking" }, ctx), /--service-type "forking" must be one of simple, exec, notify/);
    await assert.rejects(init.run({ ...g, reloadSignal: "KILL" }, ctx), /--reload-signal "KILL" must be one of HUP, USR1, USR2/);
    await assert.rejects(init.run({ ...g, stopTimeout: "0" }, ctx), /--stop-timeout "0" must be at least 1 s/);
    await assert.rejects(init.run({ ...g, exec: "/bin/sleep ${PORT:-1}" }, ctx), /systemd expands only plain \$\{NAME\}/);
  } finally {
    await w.cleanup();
  }
});

test("execVarProblem and execVars", () => {
  assert.equal(execVarProblem("gw --port ${PORT} --host ${HOST} %i"), null);
  assert.equal(execVarProblem("gw --port $PORT"), null);
  assert.deepEqual(execVars("gw ${PORT} ${HOST} ${PORT}"), ["PORT", "HOST"]);
  assert.match(execVarProblem("gw ${}") ?? "", /must start with a letter/);
});

test("health target: the host comes from the configured host variable", () => {
  const config = { ...DEFAULT_CONFIG, portVar: "API_SERVER_PORT", hostVar: "API_SERVER_HOST" };
  const entries = new Map([["API_SERVER_PORT", "9001"], ["API_SERVER_HOST", "127.0.0.2"], ["HOST", "10.9.9.9"]]);
  const t = healthTarget(config, entries);
  assert.equal(t?.host, "127.0.0.2");
  assert.equal(t?.port, 9001);
  assert.equal(healthTarget(config, new Map([["API_SERVER_PORT", "9001"], ["API_SERVER_HOST", "0.0.0.0"]]))?.host, "127.0.0.1");
  assert.equal(healthTarget(DEFAULT_CONFIG, new Map([["PORT", "9001"], ["HOST", "::1"]]))?.host, "::1");
});

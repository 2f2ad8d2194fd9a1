import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { bringUp } from "../../src/core/bring-up.js";
import { JobTimeoutError, UnhealthyError } from "../../src/errors.js";
import { fakeWorld } from "../helpers/fakes.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/gateway/main.js");
const require = createRequire(import.meta.url);

interface Dgram {
  bind(p: string): void;
  on(e: "data", fn: (b: Buffer) => void): void;
  close(): void;
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  return port;
}

test("reference gateway: READY=1 once listening, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM", async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-notify-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const { DgramSocket } = require("node-unix-socket") as { DgramSocket: new () => Dgram };
  const sock = new DgramSocket();
  const socketPath = path.join(dir, "notify");
  sock.bind(socketPath);
  t.after(() => sock.close());
  const got: { at: number; text: string }[] = [];
  const waiters: (() => void)[] = [];
  sock.on("data", (b) => {
    got.push({ at: Date.now(), text: b.toString() });
    for (const w of waiters.splice(0)) w();
  });
  const until = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      if (Date.now() > deadline) assert.fail(`no ${what}; got ${JSON.stringify(got)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], { env: { PORT: String(port), AGENT_PROFILE: "n", NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "200000" }, stdio: "ignore" });
  t.after(() => child.kill("SIGKILL"));
  await until(() => got.some((m) => m.text.startsWith("READY=1")), "READY=1");
  const ready = got.find((m) => m.text.startsWith("READY=1"))!;
  assert.match(ready.text, new RegExp(`MAINPID=${child.pid}`));
  // Listening by then: READY=1 is what a Type=notify start waits for.
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(res.status, 200);
  await until(() => got.filter((m) => m.text === "WATCHDOG=1").length >= 3, "three WATCHDOG=1");
  const pings = got.filter((m) => m.text === "WATCHDOG=1").map((m) => m.at);
  // Every 100 ms (half of 200 ms) on average; one late timer on a busy machine is no failure.
  const mean = (pings.at(-1)! - pings[0]!) / (pings.length - 1);
  assert.ok(mean < 180, `pings ${mean} ms apart on average`);
  child.kill("SIGTERM");
  await until(() => got.some((m) => m.text === "STOPPING=1"), "STOPPING=1");
  await once(child, "exit");
});

test("reference gateway without NOTIFY_SOCKET does not load the notify module", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ["--trace-warnings", MAIN], { env: { PORT: String(port), AGENT_PROFILE: "n", NODE_DEBUG: "module" }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const deadline = Date.now() + 5000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) assert.fail("gateway did not answer");
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGTERM");
  await once(child, "exit");
  assert.doesNotMatch(err, /node-unix-socket/);
});

test("bringUp: a Type=notify start that never gets READY=1 fails with that reason", async () => {
  const w = await fakeWorld();
  try {
    const unit = "agent-gateway@slow.service";
    w.systemd.props.set(unit, { Type: "notify" });
    w.systemd.start = async (u: string) => {
      w.systemd.units.set(u, { ...(await w.systemd.state(u)), activeState: "activating", subState: "start" });
      throw new JobTimeoutError(`StartUnit ${u}: job did not finish within 300 ms`, u, 300);
    };
    await assert.rejects(
      bringUp(w.ctx, "slow", { deadlineMs: 300, target: { host: "127.0.0.1", port: 8600, path: "/health", timeoutMs: 1000, kind: "http" } }),
      (err: unknown) => err instanceof UnhealthyError && /not ready within 0 s: the start job did not finish \(last seen: activating\/start\): the unit is Type=notify and the gateway never sent READY=1/.test(err.message),
    );
  } finally {
    await w.cleanup();
  }
});

test("reloadLive: applies GREETING and LOG_LEVEL in place, names what needs a restart", async (t) => {
  const { liveSettings, reloadLive } = await import("../../src/gateway/live.js");
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-live-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, ".env");
  const running = { PORT: "8600", GREETING: "hi" };
  const live = liveSettings(running);
  assert.deepEqual(live, { greeting: "hi", logLevel: "info" });
  await fs.writeFile(file, 'PORT="8600"\nGREETING="hello there"\nLOG_LEVEL="debug"\n');
  assert.deepEqual(reloadLive(file, live, running, ["PORT", "HOST"]), { changed: ["greeting", "logLevel"], needsRestart: [] });
  assert.deepEqual(live, { greeting: "hello there", logLevel: "debug" });
  await fs.writeFile(file, 'PORT="8601"\nGREETING="hello there"\nLOG_LEVEL="debug"\n');
  assert.deepEqual(reloadLive(file, live, running, ["PORT", "HOST"]), { changed: [], needsRestart: ["PORT"] });
  assert.throws(() => reloadLive(path.join(dir, "missing"), live, running, ["PORT"]), { code: "ENOENT" });
  assert.deepEqual(live, { greeting: "hello there", logLevel: "debug" }, "a failed reload keeps the settings");
});

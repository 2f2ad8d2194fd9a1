import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_HOST, isLoopback, loadConfig } from "../../src/gateway/config.js";

const MAIN = fileURLToPath(new URL("../../src/gateway/main.js", import.meta.url));
const START_DEADLINE_MS = 5000;

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

interface Gateway {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnGateway(t: TestContext, env: Record<string, string>, args: string[] = []): Gateway {
  // A clean env: the runner's own PORT/HOST/API_KEY must not leak into the gateway.
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { child, out: () => out, err: () => err, exited };
}

/** Resolves once the gateway printed its listening line; rejects if it exits first. */
async function started(g: Gateway): Promise<string> {
  const listening = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const line = g.out().split("\n").find((l) => l.includes(" listening on "));
      if (line !== undefined) resolve(line);
    };
    g.child.stdout!.on("data", check);
    check();
    void g.exited.then(({ code }) => reject(new Error(`gateway exited ${code} before listening: ${g.err()}`)));
  });
  return withDeadline(listening, START_DEADLINE_MS, "gateway start");
}

async function pollUntil(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Bytes queued unread on the gateway's side of the connection from `clientPort`, from /proc/net/tcp. */
async function serverRecvQueue(serverPort: number, clientPort: number): Promise<number | undefined> {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, "0");
  const text = await readFile("/proc/net/tcp", "utf8");
  for (const line of text.split("\n").slice(1)) {
    const [, local, remote, , queues] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hex(serverPort)}`) && remote?.endsWith(`:${hex(clientPort)}`)) {
      return Number.parseInt(queues?.split(":")[1] ?? "", 16);
    }
  }
  return undefined;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

describe("gateway config", () => {
  test("defaults: loopback host, profile 'default', no key", () => {
    const r = loadConfig({ PORT: "8080" });
    assert.deepEqual(r, { ok: true, config: { host: DEFAULT_HOST, port: 8080, profile: "default" } });
  });

  test("reads host, key and profile", () => {
    const r = loadConfig({ PORT: "9001", HOST: "0.0.0.0", API_KEY: "s3cret", AGENT_PROFILE: "liam" });
    assert.deepEqual(r, { ok: true, config: { host: "0.0.0.0", port: 9001, apiKey: "s3cret", profile: "liam" } });
  });

  test("empty values count as unset", () => {
    const r = loadConfig({ PORT: "8080", HOST: "", API_KEY: "", AGENT_PROFILE: " " });
    assert.deepEqual(r, { ok: true, config: { host: DEFAULT_HOST, port: 8080, profile: "default" } });
  });

  test("port and host come from the variables the flags name", () => {
    const r = loadConfig(
      { PORT: "1", HOST: "0.0.0.0", API_SERVER_PORT: "7000", API_SERVER_HOST: "::1" },
      { portVar: "API_SERVER_PORT", hostVar: "API_SERVER_HOST" },
    );
    assert.deepEqual(r, { ok: true, config: { host: "::1", port: 7000, profile: "default" } });
  });

  for (const bad of ["0", "65536", "abc", "80.5", "-1", "0x50", "1e3", "123456"]) {
    test(`port ${JSON.stringify(bad)} is refused`, () => {
      assert.deepEqual(loadConfig({ PORT: bad }), { ok: false, problems: ["PORT: must be an integer 1-65535"] });
    });
  }

  test("port bounds 1 and 65535 are accepted", () => {
    for (const port of [1, 65535]) {
      const r = loadConfig({ PORT: String(port) });
      assert.ok(r.ok && r.config.port === port);
    }
  });

  test("a missing port names the variable the flag chose", () => {
    const r = loadConfig({ PORT: "8080" }, { portVar: "API_SERVER_PORT", hostVar: "HOST" });
    assert.ok(!r.ok);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /^API_SERVER_PORT: is not set; it must be an integer 1-65535$/);
  });

  test("a non-loopback host without API_KEY is one problem naming host and fix", () => {
    for (const host of ["0.0.0.0", "192.168.1.20", "::", "example.com"]) {
      const r = loadConfig({ PORT: "8080", HOST: host });
      assert.ok(!r.ok, host);
      assert.equal(r.problems.length, 1);
      assert.ok(r.problems[0]!.startsWith(`HOST: ${host} is not a loopback address`), r.problems[0]);
      assert.match(r.problems[0]!, /set API_KEY, or use a loopback host/);
    }
  });

  test("a bad host and a bad port are both reported", () => {
    const r = loadConfig({ PORT: "0", HOST: "not a host" });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, [
      "PORT: must be an integer 1-65535",
      "HOST: must be an IP address or a host name (no brackets, no port)",
    ]);
  });

  test("a variable name that is not one is refused before reading env", () => {
    const r = loadConfig({ PORT: "8080" }, { portVar: "MY-PORT", hostVar: "HOST" });
    assert.ok(!r.ok);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /^--port-var: "MY-PORT" must be an environment variable name/);
  });

  test("isLoopback", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "localhost", "LocalHost", "::ffff:127.0.0.1"]) {
      assert.equal(isLoopback(h), true, h);
    }
    for (const h of ["0.0.0.0", "128.0.0.1", "::", "10.0.0.1", "localhost.example.com", "::ffff:10.0.0.1"]) {
      assert.equal(isLoopback(h), false, h);
    }
  });
});

describe("agent-gateway process", () => {
  test("GET /health answers JSON with profile, pid and uptime", async (t) => {
    const port = await freePort();
    const g = spawnGateway(t, { PORT: String(port), AGENT_PROFILE: "liam" });
    assert.equal(await started(g), `agent-gateway liam listening on http://127.0.0.1:${port}`);

    const r = await get(port, "/health");
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"] ?? "", /^application\/json/);
    const body = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(body.status, "ok");
    assert.equal(body.profile, "liam");
    assert.equal(body.pid, g.child.pid);
    assert.equal(typeof body.uptime, "number");
    assert.ok((body.uptime as number) >= 0);

    const root = await get(port, "/");
    assert.equal(root.status, 200);
    assert.equal((JSON.parse(root.body) as { auth: string }).auth, "none");
    const missing = await get(port, "/nope");
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { error: "not found", path: "/nope" });
  });

  test("0.0.0.0 without API_KEY exits 78 with one stderr line", async (t) => {
    const port = await freePort();
    const g = spawnGateway(t, { PORT: String(port), HOST: "0.0.0.0" });
    const { code } = await withDeadline(g.exited, START_DEADLINE_MS, "gateway exit");
    assert.equal(code, 78);
    const lines = g.err().split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, g.err());
    assert.match(lines[0]!, /0\.0\.0\.0/);
    assert.match(lines[0]!, /API_KEY/);
    assert.equal(g.out(), "");
  });

  test("a bad port exits 78 with one stderr line", async (t) => {
    const g = spawnGateway(t, { PORT: "99999" });
    const { code } = await withDeadline(g.exited, START_DEADLINE_MS, "gateway exit");
    assert.equal(code, 78);
    assert.equal(g.err(), "agent-gateway: PORT: must be an integer 1-65535\n");
  });

  test("an unknown flag exits 78 with one stderr line", async (t) => {
    const g = spawnGateway(t, { PORT: "8080" }, ["--bogus"]);
    const { code } = await withDeadline(g.exited, START_DEADLINE_MS, "gateway exit");
    assert.equal(code, 78);
    assert.equal(g.err().split("\n").filter((l) => l !== "").length, 1, g.err());
  });

  test("with API_KEY: /health is open, other paths need the bearer key", async (t) => {
    const port = await freePort();
    const g = spawnGateway(t, { PORT: String(port), HOST: "0.0.0.0", API_KEY: "k-123" });
    await started(g);

    assert.equal((await get(port, "/health")).status, 200);
    const none = await get(port, "/");
    assert.equal(none.status, 401);
    assert.equal((JSON.parse(none.body) as { error: string }).error, "unauthorized");
    assert.equal((await get(port, "/", { Authorization: "Bearer wrong" })).status, 401);
    assert.equal((await get(port, "/", { Authorization: "Bearer k-12" })).status, 401);
    assert.equal((await get(port, "/nope")).status, 401, "unknown paths do not leak past auth");
    const ok = await get(port, "/", { Authorization: "Bearer k-123" });
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { auth: string }).auth, "bearer");
  });

  test("--port-var reads the port from the named variable", async (t) => {
    const port = await freePort();
    const g = spawnGateway(t, { API_SERVER_PORT: String(port), AGENT_PROFILE: "p2" }, ["--port-var", "API_SERVER_PORT"]);
    assert.equal(await started(g), `agent-gateway p2 listening on http://127.0.0.1:${port}`);
    assert.equal((await get(port, "/health")).status, 200);
  });

  test("a port in use exits 1 with one stderr line", async (t) => {
    const holder = net.createServer();
    holder.listen(0, "127.0.0.1");
    await once(holder, "listening");
    t.after(() => holder.close());
    const { port } = holder.address() as AddressInfo;

    const g = spawnGateway(t, { PORT: String(port) });
    const { code } = await withDeadline(g.exited, START_DEADLINE_MS, "gateway exit");
    assert.equal(code, 1);
    const lines = g.err().split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, g.err());
    assert.match(lines[0]!, /EADDRINUSE/);
  });

  test("SIGTERM closes idle keep-alive connections and exits 0 well before the 3 s force", async (t) => {
    const port = await freePort();
    const g = spawnGateway(t, { PORT: String(port) });
    await started(g);
    // Leaves an idle keep-alive socket open; the server's own keepAliveTimeout (5 s) would outlast the force timer.
    const agent = new http.Agent({ keepAlive: true });
    t.after(() => agent.destroy());
    const r = await get(port, "/health", {}, agent);
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, "keep-alive");

    const t0 = performance.now();
    g.child.kill("SIGTERM");
    const { code, signal } = await withDeadline(g.exited, 2000, "exit after SIGTERM");
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(performance.now() - t0 < 2000);
    assert.match(g.err(), /SIGTERM, closing/);
  });

  test("a request in flight at SIGTERM is answered with Connection: close, then the process exits 0", async (t) => {
    const port = await freePort();
    const g = spawnGateway(t, { PORT: String(port) });
    await started(g);
    const sock = net.connect(port, "127.0.0.1");
    t.after(() => sock.destroy());
    let received = "";
    sock.setEncoding("utf8").on("data", (d: string) => (received += d));
    const closed = once(sock, "close");
    await once(sock, "connect");
    await new Promise<void>((resolve, reject) => sock.write("GET /health HTTP/1.1\r\nHost: x\r\n", (e) => (e ? reject(e) : resolve())));
    // The signal must not overtake the half request: wait until the gateway has read it off the socket.
    await pollUntil(async () => (await serverRecvQueue(port, sock.localPort!)) === 0, 2000, "gateway reading the request");

    g.child.kill("SIGTERM");
    await withDeadline(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (g.err().includes("SIGTERM, closing")) resolve();
        };
        g.child.stderr!.on("data", check);
        check();
      }),
      2000,
      "gateway noticing SIGTERM",
    );
    sock.write("\r\n");
    await withDeadline(closed, 2000, "server closing the connection");
    assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(received, /\r\nConnection: close\r\n/i);
    assert.match(received, /"status":"ok"/);
    const { code } = await withDeadline(g.exited, 2000, "exit after SIGTERM");
    assert.equal(code, 0);
  });
});

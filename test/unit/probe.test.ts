import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { httpProber } from "../../src/probe/http.js";

async function listen(server: net.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

async function shut(server: http.Server | net.Server): Promise<void> {
  if ("closeAllConnections" in server) server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describe("httpProber", () => {
  let port: number;
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? "");
    if (req.url === "/health") return void res.end('{"status":"ok"}');
    if (req.url === "/fail") {
      res.statusCode = 500;
      return void res.end("boom");
    }
    if (req.url === "/reset") return void req.socket.destroy();
    if (req.url === "/huge") {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      // Far more than the probe reads; write errors after it hangs up are expected.
      res.on("error", () => {});
      const chunk = Buffer.alloc(64 * 1024);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      return pump();
    }
    // /hang: never answers; shut() destroys the socket.
  });
  before(async () => {
    port = await listen(server);
  });
  after(() => shut(server));

  const target = (path: string, timeoutMs = 2000) => ({ host: "127.0.0.1", port, path, timeoutMs });

  test("200 is ok", async () => {
    const v = await httpProber.http(target("/health"));
    assert.equal(v.ok, true);
    assert.equal(v.reason, "ok");
    assert.equal(v.status, 200);
    assert.ok(v.latencyMs > 0 && v.latencyMs < 2000, String(v.latencyMs));
    assert.equal(paths.at(-1), "/health");
  });

  test("500 is not ok, reason names the status", async () => {
    const v = await httpProber.http(target("/fail"));
    assert.deepEqual({ ok: v.ok, reason: v.reason, status: v.status }, { ok: false, reason: "status 500", status: 500 });
  });

  test("a server that never answers times out at the deadline", async () => {
    const v = await httpProber.http(target("/hang", 200));
    assert.equal(v.ok, false);
    assert.equal(v.reason, "timeout after 200 ms");
    assert.equal(v.status, undefined);
    assert.ok(v.latencyMs >= 195 && v.latencyMs < 1500, String(v.latencyMs));
  });

  test("a socket closed without an answer is a reset", async () => {
    const v = await httpProber.http(target("/reset"));
    assert.equal(v.ok, false);
    assert.equal(v.reason, "connection reset");
  });

  test("a huge body is cut off, not read to the end", async () => {
    const v = await httpProber.http(target("/huge", 5000));
    assert.equal(v.ok, true);
    assert.equal(v.status, 200);
  });

  test("a closed port is refused", async () => {
    const probeServer = net.createServer();
    const closedPort = await listen(probeServer);
    await shut(probeServer);
    const v = await httpProber.http({ host: "127.0.0.1", port: closedPort, path: "/health", timeoutMs: 2000 });
    assert.equal(v.ok, false);
    assert.equal(v.reason, "refused");
  });

  test("a TCP server that accepts but never speaks HTTP times out", async () => {
    const accepted = new Set<net.Socket>();
    // Reads and drops the request; only the answer is withheld.
    const silent = net.createServer((sock) => {
      accepted.add(sock);
      sock.on("error", () => {}).resume();
    });
    const silentPort = await listen(silent);
    try {
      const v = await httpProber.http({ host: "127.0.0.1", port: silentPort, path: "/", timeoutMs: 150 });
      assert.equal(v.reason, "timeout after 150 ms");
    } finally {
      for (const sock of accepted) sock.destroy();
      await shut(silent);
    }
  });
});

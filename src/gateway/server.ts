/** The reference gateway's HTTP routes: `/health` for probes, the rest behind an optional bearer key. */
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { performance } from "node:perf_hooks";
import type { GatewayConfig } from "./config.js";
import type { LiveSettings } from "./live.js";

/** The body of `GET /health`. */
export interface HealthBody {
  status: "ok";
  profile: string;
  pid: number;
  /** Whole seconds since the gateway was created. */
  uptime: number;
}

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();

/** An HTTP server answering the gateway's routes for `config`; the caller listens on it and closes it. `live` is read per request, so a reload shows at once. */
export function createGateway(config: GatewayConfig, live: LiveSettings = { greeting: "", logLevel: "info" }): http.Server {
  const startedAt = performance.now();
  // Hashing both sides gives equal-length buffers, so the comparison leaks neither the key nor its length.
  const keyDigest = config.apiKey === undefined ? undefined : sha256(config.apiKey);

  const authorized = (req: http.IncomingMessage): boolean => {
    if (keyDigest === undefined) return true;
    const match = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "");
    const token = match?.[1];
    return token !== undefined && timingSafeEqual(sha256(token), keyDigest);
  };

  const server = http.createServer((req, res) => {
    // Once close() has run, this is the connection's last request: keep-alive would hold shutdown open.
    if (!server.listening) res.setHeader("Connection", "close");
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const readOnly = req.method === "GET" || req.method === "HEAD";
    if (live.logLevel === "debug") process.stderr.write(`agent-gateway ${config.profile}: ${req.method} ${path}\n`);

    if (path === "/health") {
      if (!readOnly) return sendJson(req, res, 405, { error: "method not allowed" }, { Allow: "GET, HEAD" });
      const body: HealthBody = {
        status: "ok",
        profile: config.profile,
        pid: process.pid,
        uptime: Math.floor((performance.now() - startedAt) / 1000),
      };
      return sendJson(req, res, 200, body, { "Cache-Control": "no-store" });
    }
    // Checked before routing, so a caller without the key cannot tell which paths exist.
    if (!authorized(req)) {
      return sendJson(
        req,
        res,
        401,
        { error: "unauthorized", detail: "send the header Authorization: Bearer <API_KEY>" },
        { "WWW-Authenticate": 'Bearer realm="agent-gateway"' },
      );
    }
    if (path === "/") {
      if (!readOnly) return sendJson(req, res, 405, { error: "method not allowed" }, { Allow: "GET, HEAD" });
      return sendJson(req, res, 200, {
        name: "agent-gateway",
        profile: config.profile,
        auth: keyDigest === undefined ? "none" : "bearer",
        greeting: live.greeting,
        logLevel: live.logLevel,
        endpoints: { "/health": "liveness; never needs auth", "/": "this description" },
      });
    }
    return sendJson(req, res, 404, { error: "not found", path });
  });
  return server;
}

function sendJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(req.method === "HEAD" ? undefined : text);
}

/** The HTTP health probe: one fresh connection per probe, bounded in time and in bytes read. */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { reasonFor } from "./reasons.js";
import { tcpProbe } from "./tcp.js";
import type { ProbeTarget, ProbeVerdict, Prober } from "./types.js";

// Health bodies are tiny; past this a misbehaving endpoint is cut off rather than read to the end.
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The real Prober (context.ts loads it by this name). `http`: node:http, `ok` means a 2xx within
 * `timeoutMs`, counting connect, headers and body; `tcp`: see tcp.ts.
 */
export const httpProber: Prober = {
  tcp: tcpProbe,
  http(target: ProbeTarget): Promise<ProbeVerdict> {
    return new Promise((resolve) => {
      const started = performance.now();
      let settled = false;
      const settle = (v: Omit<ProbeVerdict, "latencyMs">): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...v, latencyMs: performance.now() - started });
      };

      // One timer for the whole exchange: socket timeouts only measure idleness, not the total.
      const timer = setTimeout(() => {
        settle({ ok: false, reason: `timeout after ${target.timeoutMs} ms` });
        req?.destroy();
      }, target.timeoutMs);

      let req: http.ClientRequest | undefined;
      try {
        // No agent: a pooled keep-alive socket could hide a gateway that stopped accepting new connections.
        req = http.request({
          host: target.host,
          port: target.port,
          path: target.path,
          method: "GET",
          agent: false,
          headers: { Accept: "application/json", Connection: "close" },
        });
      } catch (err) {
        // node:http throws, rather than emits, for a port or path it cannot send.
        settle({ ok: false, reason: reasonFor(err as NodeJS.ErrnoException) });
        return;
      }
      req.on("error", (err: NodeJS.ErrnoException) => {
        settle({ ok: false, reason: reasonFor(err) });
      });
      req.on("response", (res) => {
        const status = res.statusCode ?? 0;
        const verdict = status >= 200 && status < 300 ? { ok: true, reason: "ok", status } : { ok: false, reason: `status ${status}`, status };
        let seen = 0;
        res.on("data", (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > MAX_BODY_BYTES) {
            settle(verdict);
            res.destroy();
          }
        });
        res.on("end", () => settle(verdict));
        res.on("error", (err: NodeJS.ErrnoException) => settle({ ok: false, reason: reasonFor(err), status }));
      });
      req.end();
    });
  },
};

/** The TCP health probe, for gateways that speak no HTTP: a connection accepted in time is healthy. */
import net from "node:net";
import { performance } from "node:perf_hooks";
import { reasonFor } from "./reasons.js";
import type { ProbeTarget, ProbeVerdict } from "./types.js";

/** Connect to `host:port` and close at once; one timer bounds the whole attempt. */
export function tcpProbe(target: ProbeTarget): Promise<ProbeVerdict> {
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    let socket: net.Socket | undefined;
    const settle = (v: Omit<ProbeVerdict, "latencyMs">): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve({ ...v, latencyMs: performance.now() - started });
    };
    const timer = setTimeout(() => settle({ ok: false, reason: `timeout after ${target.timeoutMs} ms` }), target.timeoutMs);
    try {
      socket = net.connect({ host: target.host, port: target.port });
    } catch (err) {
      // net.connect throws, rather than emits, for a port out of range.
      settle({ ok: false, reason: reasonFor(err as NodeJS.ErrnoException) });
      return;
    }
    socket.once("connect", () => settle({ ok: true, reason: "ok" }));
    socket.once("error", (err: NodeJS.ErrnoException) => settle({ ok: false, reason: reasonFor(err) }));
  });
}

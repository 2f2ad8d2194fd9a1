/** Health checks between measurements (never measured): every gateway answers, and which process answers. */
import { setTimeout as delay } from "node:timers/promises";

/** Where a gateway listens (profiles and pm2's apps each on ports of their own, on 127.0.0.1). */
export interface Endpoint {
  host: string;
  port: number;
}

const POLL_MS = 50;
const PROBE_TIMEOUT_MS = 2000;

async function probe(e: Endpoint): Promise<number | null> {
  try {
    const res = await fetch(`http://${e.host}:${e.port}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (res.status !== 200) return null;
    const body = (await res.json()) as { pid?: unknown };
    return typeof body.pid === "number" ? body.pid : null;
  } catch {
    return null;
  }
}

/**
 * Polls every endpoint's /health until all answer 200, and returns the PID each one reports (same order).
 * Throws once `deadlineMs` has passed, naming those that still do not answer.
 */
export async function waitHealthy(endpoints: readonly Endpoint[], deadlineMs = 60_000): Promise<number[]> {
  const pids: Array<number | null> = endpoints.map(() => null);
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const pending = endpoints.map((e, i) => i).filter((i) => pids[i] === null);
    const answers = await Promise.all(pending.map((i) => probe(endpoints[i]!)));
    pending.forEach((i, k) => (pids[i] = answers[k] ?? null));
    const down = endpoints.filter((_, i) => pids[i] === null);
    if (down.length === 0) return pids as number[];
    if (Date.now() > deadline) {
      const list = down.slice(0, 10).map((e) => `${e.host}:${e.port}`).join(", ");
      throw new Error(`${down.length} of ${endpoints.length} gateways do not answer /health after ${deadlineMs} ms: ${list}`);
    }
    await delay(POLL_MS);
  }
}

/** Endpoints whose process is the same before and after: they were not restarted. */
export function notRestarted(endpoints: readonly Endpoint[], before: readonly number[], after: readonly number[]): Endpoint[] {
  return endpoints.filter((_, i) => before[i] === after[i]);
}

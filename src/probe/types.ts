/** Health probes: the one place that opens connections to a gateway. */

/** `http`: GET the health path, expect a 2xx; `tcp`: a connect is enough (gateways without HTTP). */
export type ProbeKind = "http" | "tcp";

/** The probe kinds, as config files and flags spell them. */
export const PROBE_KINDS: readonly ProbeKind[] = ["http", "tcp"];

export interface ProbeTarget {
  host: string;
  port: number;
  /** HTTP path, e.g. `/health`; unused by a TCP probe. */
  path: string;
  timeoutMs: number;
  /** Which probe this target wants; `http` when absent. */
  kind?: ProbeKind;
}

/** What a single probe saw. `reason` is short and human: `status 500`, `refused`, `timeout after 2000 ms`. */
export interface ProbeVerdict {
  ok: boolean;
  reason: string;
  status?: number;
  latencyMs: number;
}

export interface Prober {
  http(target: ProbeTarget): Promise<ProbeVerdict>;
  /** Connect and hang up; `ok` when the connection is accepted within `timeoutMs`. */
  tcp(target: ProbeTarget): Promise<ProbeVerdict>;
}

/** Run the probe the target asks for. */
export function probe(prober: Prober, target: ProbeTarget): Promise<ProbeVerdict> {
  return target.kind === "tcp" ? prober.tcp(target) : prober.http(target);
}

/** The target as people read it: `http://127.0.0.1:8642/health` or `tcp 127.0.0.1:8642`. */
export function describeTarget(target: ProbeTarget): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return target.kind === "tcp" ? `tcp ${host}:${target.port}` : `http://${host}:${target.port}${target.path}`;
}

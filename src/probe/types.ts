/** Health probes: the one place that opens connections to a gateway. */

export interface ProbeTarget {
  host: string;
  port: number;
  /** HTTP path, e.g. `/health`. */
  path: string;
  timeoutMs: number;
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
}

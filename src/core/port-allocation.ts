import { PortTakenError, RangeExhaustedError, UsageError } from "../errors.js";
import type { Config } from "../config.js";
import { describeListener } from "../ports/describe.js";
import type { PortInspector } from "../ports/types.js";

/** Whether a profile may have port `n`: 1024-65535. */
export function isUsablePort(n: number): boolean {
  return Number.isInteger(n) && n >= 1024 && n <= 65535;
}

/** Parse a port given by a user: an integer 1024-65535, else UsageError. */
export function parsePort(raw: unknown, what = "--port"): number {
  const text = String(raw);
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!isUsablePort(n)) throw new UsageError(`${what} "${text}" must be a whole number from 1024 to 65535`);
  return n;
}

/**
 * Refuse a port recorded for another profile (running or not) or held by any listener on this host.
 * `self` is the profile the port is for, so that keeping one's own port is no collision.
 */
export async function assertPortFree(port: number, self: string, recorded: Map<number, string>, inspector: PortInspector): Promise<void> {
  const owner = recorded.get(port);
  if (owner !== undefined && owner !== self) throw new PortTakenError(port, `profile "${owner}"`);
  const listener = await inspector.listener(port);
  if (listener) throw new PortTakenError(port, describeListener(listener));
}

/**
 * The lowest port of the configured range that no profile records and nothing listens on.
 * Never a port outside the range.
 */
export async function allocatePort(config: Config, recorded: Map<number, string>, inspector: PortInspector): Promise<number> {
  const listening = await inspector.listeningPorts();
  const { from, to } = config.portRange;
  for (let port = from; port <= to; port++) {
    if (recorded.has(port) || listening.has(port)) continue;
    // A bind test catches listeners /proc does not show (another network namespace's view, a race).
    if (await inspector.bindable(port)) return port;
  }
  throw new RangeExhaustedError(from, to);
}

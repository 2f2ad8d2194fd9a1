/** Building the profiles a phase measures: names, ports, adding and starting them in bulk (never measured). */
import { mapLimit } from "../src/core/sweep/pool.js";
import { runOk } from "./exec.js";
import type { Endpoint } from "./health.js";
import type { Tools } from "./tools.js";
import type { SandboxUser } from "../test/helpers/sandbox.js";

/** The bench's ports: a range no test file uses. Profile pNNN gets FIRST_PORT + NNN - 1. */
export const PORT_RANGE = "20000-20499";
export const FIRST_PORT = 20000;
/** The second sandbox (the "1st add") hands out ports from here, clear of the first one's 200. */
export const EMPTY_RANGE = "20400-20499";
/**
 * pm2's app n listens on PM2_FIRST_PORT + n - 1: ports of their own, since a profile's health gate rightly
 * counts any other process listening on its port (on any address) as a squatter, and refuses to pass.
 */
export const PM2_FIRST_PORT = 20500;

/** profile number n (1-based) → p001, p002, ... */
export function profileName(n: number): string {
  return `p${String(n).padStart(3, "0")}`;
}

/** Numbers from..to, inclusive. */
export function numbers(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Where profile n answers. */
export function profileEndpoint(n: number): Endpoint {
  return { host: "127.0.0.1", port: FIRST_PORT + n - 1 };
}

const ADD_CONCURRENCY = 3;
const START_GROUPS = 4;

/**
 * Adds profiles `ns` without starting them; a few `profiles add` at once (the ports lock keeps them
 * apart), each on its own fixed port.
 */
export async function addStopped(user: SandboxUser, tools: Tools, ns: readonly number[]): Promise<void> {
  await mapLimit(ns, ADD_CONCURRENCY, async (n) => {
    await runOk(user, tools.profiles("add", profileName(n), "--port", String(profileEndpoint(n).port), "--no-start"));
  });
}

/**
 * Starts profiles `ns` through `profiles start` (so each gets its known-good mark, as a user's would),
 * split over a few processes at once: one process starts its names one after the other.
 */
export async function startAll(user: SandboxUser, tools: Tools, ns: readonly number[]): Promise<void> {
  const groups: number[][] = Array.from({ length: START_GROUPS }, () => []);
  ns.forEach((n, i) => groups[i % START_GROUPS]!.push(n));
  await Promise.all(
    groups
      .filter((g) => g.length > 0)
      .map((g) => runOk(user, tools.profiles("start", ...g.map(profileName), "--wait", "60"), { timeoutMs: 600_000 })),
  );
}

/** The main PID of every running profile, from `profiles list --json`. */
export async function profilePids(user: SandboxUser, tools: Tools): Promise<number[]> {
  const rows = JSON.parse(await runOk(user, tools.profiles("list", "--json"))) as Array<{ pid: number | null }>;
  return rows.flatMap((r) => (r.pid ? [r.pid] : []));
}

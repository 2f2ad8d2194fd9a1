/** pm2 running the same reference gateway, same count, on ports of its own, as the same user. */
import fs from "node:fs";
import path from "node:path";
import { run, runOk } from "./exec.js";
import { waitHealthy } from "./health.js";
import { numbers, PM2_FIRST_PORT } from "./population.js";
import { pm2Env, PM2_HOME_DIR, type Tools } from "./tools.js";
import type { SandboxUser } from "../test/helpers/sandbox.js";

/** App number n (1-based) → gw-001, ... */
export function appName(n: number): string {
  return `gw-${String(n).padStart(3, "0")}`;
}

/** Where app n answers. */
export function appEndpoint(n: number): { host: string; port: number } {
  return { host: "127.0.0.1", port: PM2_FIRST_PORT + n - 1 };
}

/**
 * Starts apps from..to from an ecosystem file, as a pm2 user would write it: fork mode (the default),
 * `wait_ready` so that start and reload wait for the gateway's process.send('ready').
 */
export async function startApps(user: SandboxUser, tools: Tools, from: number, to: number): Promise<void> {
  const apps = numbers(from, to).map((n) => ({
    name: appName(n),
    script: tools.gateway,
    env: { PORT: String(appEndpoint(n).port), HOST: "127.0.0.1", AGENT_PROFILE: appName(n) },
    wait_ready: true,
    listen_timeout: 10_000,
  }));
  const file = path.join(user.home, `ecosystem-${from}-${to}.json`);
  fs.writeFileSync(file, JSON.stringify({ apps }, null, 2));
  fs.chownSync(file, user.uid, user.gid);
  await runOk(user, tools.pm2("start", file), { env: pm2Env(user), timeoutMs: 600_000 });
  await waitHealthy(numbers(from, to).map(appEndpoint));
}

/** PIDs of pm2's apps, from `pm2 jlist`. */
export async function appPids(user: SandboxUser, tools: Tools): Promise<number[]> {
  const list = JSON.parse(await runOk(user, tools.pm2("jlist"), { env: pm2Env(user) })) as Array<{ pid: number }>;
  return list.map((p) => p.pid).filter((pid) => pid > 0);
}

/** The pm2 daemon's PID, from the file it keeps in PM2_HOME; null when it is not running. */
export function daemonPid(user: SandboxUser): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(user.home, PM2_HOME_DIR, "pm2.pid"), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Stops every app and the daemon (`pm2 kill`); a pm2 that never started is fine. */
export async function killPm2(user: SandboxUser, tools: Tools): Promise<void> {
  if (daemonPid(user) === null) return;
  const r = await run(user, tools.pm2("kill"), { env: pm2Env(user), timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`pm2 kill exited ${r.code}: ${r.stderr}`);
}

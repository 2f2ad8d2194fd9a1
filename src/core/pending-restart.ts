/**
 * Whether a running gateway's environment is its `.env` as it is now, or the `.env` has changed since it
 * started ("pending restart"): `list`, `status` and `roll --changed` ask. Judged from the process's own
 * start-up environment (/proc/PID/environ), not from file times.
 */
import { readFileSync } from "node:fs";
import { envFile } from "../paths.js";
import { decodeBytes } from "../store/bytes.js";
import { parseEnv, type EnvEntries } from "../store/envfile.js";
import { history, readGeneration } from "../store/generations.js";
import type { Context } from "./context.js";
import { startedWith } from "./started-with.js";

/** A running profile's environment against its `.env`; nulls where it does not run or its environment cannot be read. */
export interface RunningVsDisk {
  /** The `.env` differs from what the running process started with. */
  pendingRestart: boolean | null;
  /** The generation the `.env` holds (null: edited by hand since). */
  generationOnDisk: number | null;
  /** The newest kept generation the running process started with (null: none found, or not running). */
  generationRunning: number | null;
}

const UNKNOWN: RunningVsDisk = { pendingRestart: null, generationOnDisk: null, generationRunning: null };

/**
 * Whether `env` (a process's environment) is `entries`: every key with its value, and no key that a
 * generation once had (`ours`: every key any kept generation changed) and `entries` lacks, i.e. an unset.
 */
function runsWith(env: Map<string, string>, entries: EnvEntries, ours: Set<string>): boolean {
  if (startedWith(env, entries).verdict !== "same") return false;
  return ![...ours].some((k) => !entries.has(k) && env.has(k));
}

/** How profile `name`'s running main process `pid` stands against its `.env`. */
export async function runningVsDisk(ctx: Context, name: string, pid: number | null): Promise<RunningVsDisk> {
  if (pid === null) return UNKNOWN;
  const env = await (await ctx.procs()).environ(pid);
  let text: string;
  try {
    text = decodeBytes(readFileSync(envFile(ctx.paths, name)));
  } catch {
    return UNKNOWN;
  }
  if (env === null) return UNKNOWN;
  const h = await history(ctx.paths, name).catch(() => null);
  const ours = new Set(h?.generations.flatMap((g) => g.changed) ?? []);
  if (runsWith(env, parseEnv(text).entries, ours)) return { pendingRestart: false, generationOnDisk: h?.current ?? null, generationRunning: h?.current ?? null };
  let running: number | null = null;
  for (const g of [...(h?.generations ?? [])].reverse()) {
    const gText = await readGeneration(ctx.paths, name, g.number).catch(() => null);
    if (gText !== null && runsWith(env, parseEnv(gText).entries, ours)) {
      running = g.number;
      break;
    }
  }
  return { pendingRestart: true, generationOnDisk: h?.current ?? null, generationRunning: running };
}

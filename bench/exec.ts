/**
 * Running commands as a sandbox user: measured (one whole process, as a user waits for it) or not
 * (setup between measurements). The driver is root; each command gets the user's uid, gid and env.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { spawnAsUser, type SandboxUser } from "../test/helpers/sandbox.js";

/** What one measured run cost and how it ended. */
export interface Measurement {
  /** Wall time from spawn to exit. */
  ms: number;
  /** Peak RSS (ru_maxrss of the command and its children, as GNU time reports it); null if unknown. */
  rssMiB: number | null;
  /** CPU (user + system) of the command and its children, as GNU time reports it (10 ms steps); null if unknown. */
  cpuMs: number | null;
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of `measure` and `run`. */
export interface RunOptions {
  /** Extra variables on top of the user's login environment. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

const GNU_TIME = "/usr/bin/time";
const DEFAULT_TIMEOUT_MS = 180_000;
const MAX_OUTPUT = 64 * 1024 * 1024;

function spawnOptions(user: SandboxUser, opts: RunOptions) {
  return { uid: user.uid, gid: user.gid, cwd: user.home, env: { ...user.env, ...opts.env } };
}

/** The last lines of a command's output, for an error message. */
export function tail(text: string, lines = 6): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Runs `argv` once under GNU time and measures it. spawnSync blocks the driver, so nothing of ours runs
 * beside the command; the wrapper's own fork and exec (about a millisecond) is in every tool's figure alike.
 */
export function measure(user: SandboxUser, argv: readonly string[], opts: RunOptions = {}): Measurement {
  const rssFile = path.join(user.home, ".bench-peak-rss");
  fs.rmSync(rssFile, { force: true });
  const started = process.hrtime.bigint();
  const r = spawnSync(GNU_TIME, ["-f", "%M %U %S", "-o", rssFile, ...argv], {
    ...spawnOptions(user, opts),
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: MAX_OUTPUT,
    timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.error) {
    return { ms, rssMiB: null, cpuMs: null, code: -1, stdout: r.stdout ?? "", stderr: `${r.error.message}\n${r.stderr ?? ""}` };
  }
  // GNU time puts "Command exited with non-zero status N" before the figures when the command failed.
  const [kib, userS, sysS] = (fs.readFileSync(rssFile, "utf8").trim().split("\n").pop() ?? "").split(" ").map(Number);
  const cpuS = (userS ?? NaN) + (sysS ?? NaN);
  return {
    ms,
    rssMiB: kib !== undefined && Number.isFinite(kib) && kib > 0 ? kib / 1024 : null,
    cpuMs: Number.isFinite(cpuS) ? cpuS * 1000 : null,
    code: r.status ?? 128,
    stdout: r.stdout,
    stderr: r.stderr,
  };
}

/** Runs `argv` as the user without measuring it; resolves with its exit code and output. */
export async function run(user: SandboxUser, argv: readonly string[], opts: RunOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  if (argv.length === 0) throw new Error("run: empty command");
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { timedOut, ...r } = await spawnAsUser(user, argv, { env: opts.env, timeoutMs }).done;
  return timedOut ? { ...r, stderr: `${r.stderr}\n(killed by SIGKILL after ${timeoutMs} ms)` } : r;
}

/** Like `run`, but a non-zero exit is an error naming the command and its last lines. */
export async function runOk(user: SandboxUser, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(user, argv, opts);
  if (r.code !== 0) {
    throw new Error(`as ${user.user}: \`${argv.join(" ")}\` exited ${r.code}\n${tail(r.stderr || r.stdout, 12)}`);
  }
  return r.stdout;
}

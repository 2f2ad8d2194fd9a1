/** The CLI run as a sandbox user from a test, and waiting on a condition with a deadline. */
import assert from "node:assert/strict";
import type { Collected, ExecResult, Sandbox, Spawned } from "./sandbox.js";

/** `profiles ARGS` as the sandbox's user (90 s deadline), and the same that must exit 0, its stdout. */
export function cli(sb: () => Sandbox): { profiles(args: string[]): Promise<ExecResult>; ok(args: string[]): Promise<string> } {
  const profiles = (args: string[]): Promise<ExecResult> => sb().profiles(args, { timeoutMs: 90_000 });
  return {
    profiles,
    async ok(args) {
      const r = await profiles(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    },
  };
}

/** Polls `probe` every 20 ms until it returns true; fails naming `what` once `ms` have passed. */
export async function waitFor(what: string, probe: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs `body` while `f` (a `logs -f`) runs, then sends it `signal` and returns how it ended; a `body` that
 * throws SIGKILLs it first, so that no follower outlives a failed test.
 */
export async function stopAfter(f: Spawned, body: () => Promise<void>, signal: NodeJS.Signals = "SIGTERM"): Promise<Collected> {
  try {
    await body();
  } catch (err) {
    process.kill(f.pid, "SIGKILL");
    throw err;
  }
  process.kill(f.pid, signal);
  return f.done;
}

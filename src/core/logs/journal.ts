/** The journal, read through `journalctl --user` (reading logs is no systemd action; the bus has no log API). */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import { resolveProgram } from "../exec-command.js";

/** journald's socket: where it exists, units' output goes to the journal. */
export const JOURNAL_SOCKET = "/run/systemd/journal/socket";

/** Whether this host runs journald and has journalctl to read it; the program's path, or null. */
export async function findJournal(env: NodeJS.ProcessEnv, socket = JOURNAL_SOCKET): Promise<string | null> {
  const st = await fs.stat(socket).catch(() => null);
  if (!st?.isSocket()) return null;
  return resolveProgram("journalctl", env.PATH);
}

/** The arguments that show a unit's last `lines` lines, and follow it with `follow`. */
export function journalArgs(unit: string, lines: number, follow: boolean, json: boolean): string[] {
  return ["--user", "-u", unit, "-n", String(lines), ...(follow ? ["-f"] : []), ...(json ? ["-o", "json"] : []), "--no-pager"];
}

/**
 * Run journalctl on this terminal and resolve with its exit code. When `signal` aborts (our own
 * SIGINT/SIGTERM), journalctl is told to stop too; a terminal's Ctrl-C reaches it directly.
 */
export function runJournal(program: string, args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: "inherit", env });
    const stop = (): void => void child.kill("SIGTERM");
    signal.addEventListener("abort", stop, { once: true });
    child.on("error", (err) => {
      signal.removeEventListener("abort", stop);
      reject(err);
    });
    child.on("close", (code) => {
      signal.removeEventListener("abort", stop);
      resolve(code ?? 1);
    });
  });
}

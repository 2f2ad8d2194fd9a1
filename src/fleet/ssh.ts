/**
 * The one way to another host: the user's own OpenSSH, running `profiles` there. Connections are
 * multiplexed (ControlMaster/ControlPersist) through sockets in a private 0700 directory, so a second
 * command to a host costs milliseconds; the remote side is told the version it must be (AP_FLEET_VERSION).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AppError, ExitCode } from "../errors.js";
import { shellWord } from "../render/shell.js";
import { makeDirs } from "../store/make-dirs.js";
import type { Host } from "./hosts.js";

/** What one remote `profiles` did: its exit code (255: ssh could not reach it), stdout and stderr. */
export interface RemoteResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RemoteOptions {
  /** Written to the remote command's stdin (`set --stdin`); without it stdin is empty. */
  input?: string;
  /** Each line of its stdout as it comes (`logs -f`, `top`); the result's `stdout` is then empty. */
  onStdoutLine?(line: string): void;
  /** Each line of its stderr as it comes (progress). */
  onStderrLine?(line: string): void;
  /** Ends the ssh process (and with it the remote command's session). */
  signal?: AbortSignal;
  /** Variables for the remote `profiles` (NAME=VALUE through `env`, which needs nothing of sshd's AcceptEnv). */
  env?: Record<string, string>;
  /** In a process group of its own: a Ctrl-C at the terminal reaches only this process, which decides. */
  detached?: boolean;
  /**
   * Keep the remote command's stdin open until this process ends, however it ends: its end of the pipe is
   * then closed by the kernel, and ssh passes that on as the end of the remote's stdin (`logs -f` stops on it).
   */
  holdStdin?: boolean;
}

/** Runs `profiles ARGS` on a host: the adapter behind every fleet command, faked in unit tests. */
export interface RemoteRunner {
  run(host: Host, args: readonly string[], opts?: RemoteOptions): Promise<RemoteResult>;
}

/** ssh's own exit code when it could not connect or authenticate (the remote command's codes pass through). */
export const SSH_FAILED = 255;
/** What a POSIX shell (and `env`) exit with when the command is not on PATH. */
export const NOT_FOUND = 127;

/** A directory of ours alone, or an error: another user's socket there could stand in for a host. */
function privateDir(dir: string): string {
  makeDirs(dir, 0o700);
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new AppError(`${dir} must be a directory of yours with mode 0700 (it holds ssh's control sockets)`, ExitCode.fileSystem, `remove it, or run: chmod 700 ${dir}`);
  }
  return dir;
}

/** Where ssh's control sockets live: under $XDG_RUNTIME_DIR, else in /tmp named by the uid. */
export function controlDir(env: NodeJS.ProcessEnv): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime) && fs.existsSync(runtime)) return path.join(runtime, "agent-profiles", "ssh");
  return path.join(os.tmpdir(), `agent-profiles-ssh-${process.getuid?.() ?? "user"}`);
}

/** ssh's argv for one command on `host`. */
export function sshArgv(host: Host, remote: readonly string[], opts: { config?: string; controlDir: string }): string[] {
  return [
    ...(opts.config ? ["-F", opts.config] : []),
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    // A host that vanishes without a FIN (power, network) is noticed within a minute, not TCP's hours.
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=4",
    "-o", "ControlMaster=auto",
    "-o", `ControlPath=${path.join(opts.controlDir, "%C")}`,
    "-o", "ControlPersist=300",
    ...(host.port ? ["-p", String(host.port)] : []),
    ...(host.user ? ["-l", host.user] : []),
    "--",
    host.destination,
    // ssh hands the command line to the remote user's shell: each word quoted as that shell reads it back.
    remote.map(shellWord).join(" "),
  ];
}

// A host that sends no newline must not grow one line without end, nor make each chunk rescan it.
const MAX_LINE = 1024 * 1024;

/** Each line to `onLine` as it comes (one past MAX_LINE in pieces), the text kept in `keep` unless null. */
function lines(stream: NodeJS.ReadableStream, onLine: ((line: string) => void) | undefined, keep: string[] | null): void {
  let rest = "";
  stream.setEncoding?.("utf8");
  stream.on("data", (chunk: string) => {
    keep?.push(chunk);
    if (!onLine) return;
    if (!chunk.includes("\n")) {
      rest += chunk;
      if (rest.length > MAX_LINE) {
        onLine(rest);
        rest = "";
      }
      return;
    }
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    for (const p of parts) onLine(p);
  });
  stream.on("end", () => {
    if (onLine && rest !== "") onLine(rest);
  });
}

/** The real runner: `ssh [-F $AP_SSH_CONFIG] ... HOST env AP_FLEET_VERSION=V profiles ARGS`. */
export function sshRunner(env: NodeJS.ProcessEnv, version: string): RemoteRunner {
  let dir: string | undefined;
  return {
    run(host, args, opts = {}) {
      dir ??= privateDir(controlDir(env));
      const argv = sshArgv(host, ["env", `AP_FLEET_VERSION=${version}`, ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`), "profiles", ...args], { config: env.AP_SSH_CONFIG || undefined, controlDir: dir });
      return new Promise((resolve, reject) => {
        const child = spawn("ssh", argv, { stdio: ["pipe", "pipe", "pipe"], env, signal: opts.signal, detached: opts.detached });
        const out: string[] = [];
        const err: string[] = [];
        // Stdout given line by line (`logs -f`, `top`) may run for days: not kept as well.
        lines(child.stdout, opts.onStdoutLine, opts.onStdoutLine ? null : out);
        lines(child.stderr, opts.onStderrLine, err);
        child.on("error", (e) => {
          if (e.name === "AbortError") return;
          reject(new AppError(`cannot run ssh: ${e.message}`, ExitCode.managerUnreachable, "install OpenSSH's client (ssh)"));
        });
        child.on("close", (code, signal) => resolve({ code: code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0), stdout: out.join(""), stderr: err.join("") }));
        child.stdin.on("error", () => {});
        if (opts.holdStdin) child.stdin.write(opts.input ?? "");
        else child.stdin.end(opts.input ?? "");
      });
    },
  };
}

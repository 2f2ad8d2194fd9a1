import fs from "node:fs";
import path from "node:path";

/** Exit codes of the CLI; README.md documents each one. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  exists: 4,
  portTaken: 5,
  rangeExhausted: 6,
  unhealthy: 7,
  notInitialised: 8,
  busy: 9,
  managerUnreachable: 10,
  systemd: 11,
  badFile: 12,
  /** `roll` stopped: a profile failed its health gate (reverted or not), or the roll was interrupted. */
  rollHalted: 13,
  /** `doctor` found at least one problem. */
  problemsFound: 14,
  /** A file system refused a write or read: full, read-only, or not ours to change. Nothing was changed. */
  fileSystem: 15,
  /** `plan`: applying the manifest would change something (as `terraform plan -detailed-exitcode` says 2). */
  changesPending: 16,
  /** `--host`: a host cannot run the command: no `profiles` there, or another version of it. */
  hostUnusable: 17,
  internal: 70,
  /** Ctrl-C (SIGINT) stopped a wait; what was done stays done (128 + the signal's number, as a shell says). */
  interrupted: 130,
  /** SIGTERM stopped a wait, likewise. */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base of every error the CLI expects; `hint` is the next command a user should run. */
export class AppError extends Error {
  // Spelled out in each class, not taken from the constructor: a minified bundle renames classes, and
  // esbuild's keepNames, which would keep them, slowed every closure the CLI creates.
  override name = "AppError";
  readonly exitCode: ExitCode;
  hint?: string;
  constructor(message: string, exitCode: ExitCode, hint?: string) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** A host runs another version of `profiles` than the one driving it (`--host`): the two might not mean the same. */
export class VersionMismatchError extends AppError {
  override name = "VersionMismatchError";
  constructor(readonly wanted: string, readonly have: string) {
    super(`this host runs profiles ${have}, and the command came from profiles ${wanted}`, ExitCode.hostUnusable, `install the same version on both: npm install -g agent-profiles@${wanted}`);
  }
}

/** A flag, name, port or K=V pair that breaks a rule. */
export class UsageError extends AppError {
  override name = "UsageError";
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

export class ProfileNotFoundError extends AppError {
  override name = "ProfileNotFoundError";
  constructor(readonly profile: string) {
    super(`profile "${profile}" does not exist`, ExitCode.notFound, "run `profiles list` to see the profiles");
  }
}

export class ProfileExistsError extends AppError {
  override name = "ProfileExistsError";
  constructor(readonly profile: string) {
    super(`profile "${profile}" already exists`, ExitCode.exists, `run \`profiles status ${profile}\`, or pick another name`);
  }
}

/** A `.env` is already where the env-path puts a new profile's: a gateway's own, to be imported, not overwritten. */
export class EnvFileExistsError extends AppError {
  override name = "EnvFileExistsError";
  constructor(readonly profile: string, readonly file: string) {
    super(`profile "${profile}" is no profile of ours, but its .env is already there: ${file}`, ExitCode.exists, `take it over with \`profiles import --from-unit PATTERN ${profile}\`, or pick another name`);
  }
}

/** The port is recorded for another profile, or some process listens on it. */
export class PortTakenError extends AppError {
  override name = "PortTakenError";
  constructor(readonly port: number, readonly holder: string, hint = "pick another --port, or leave it out to get a free one from the range") {
    super(`port ${port} is taken by ${holder}`, ExitCode.portTaken, hint);
  }
}

/** Two profiles would share a value of a key config.ini's `[unique] keys` names (a bot token): the value itself is never shown. */
export class DuplicateValueError extends AppError {
  override name = "DuplicateValueError";
  constructor(readonly key: string, readonly profile: string, readonly other: string) {
    super(
      `${key} of profile "${profile}" has the same value as profile "${other}"'s (the value is not shown; config.ini's [unique] keys says no two profiles may share it)`,
      ExitCode.portTaken,
      `give ${profile} its own ${key}: two gateways on one bot token get HTTP 429 and risk a ban`,
    );
  }
}

export class RangeExhaustedError extends AppError {
  override name = "RangeExhaustedError";
  constructor(readonly from: number, readonly to: number) {
    super(`no free port left in the range ${from}-${to}`, ExitCode.rangeExhausted, "widen it with `profiles init --range A-B`, or pass --port");
  }
}

/** A unit that did not come up, or came up and did not answer its health probe in time. */
export class UnhealthyError extends AppError {
  override name = "UnhealthyError";
  constructor(message: string, readonly details: string[] = [], hint?: string) {
    super(message, ExitCode.unhealthy, hint);
  }
}

/** SIGINT or SIGTERM stopped a wait at a safe point: the message says what was done and what goes on. */
export class InterruptedError extends AppError {
  override name = "InterruptedError";
  /** `untouched`: the signal came before anything was done to the profile (notStopped), so its hint only repeats the command. */
  constructor(readonly signal: string, message: string, hint?: string, readonly untouched = false) {
    super(message, signal === "SIGTERM" ? ExitCode.terminated : ExitCode.interrupted, hint);
  }

  /** The same interruption, its message ending with what was done or kept before it: `(note)` (none when ""); `hint` replaces its next step. */
  noting(note: string, hint = this.hint): InterruptedError {
    return new InterruptedError(this.signal, note ? `${this.message} (${note})` : this.message, hint, this.untouched);
  }

  /** The same interruption, saying what was `done` before it and what was `notBegun` (each left out when none). */
  after(done: string[], notBegun: string[], hint = this.hint): InterruptedError {
    const note = [done.length > 0 ? `before it: ${done.join(", ")}` : "", notBegun.length > 0 ? `not begun: ${notBegun.join(", ")}` : ""];
    return this.noting(note.filter(Boolean).join("; "), hint);
  }
}

export class NotInitialisedError extends AppError {
  override name = "NotInitialisedError";
  constructor(readonly configFile: string) {
    super(`no configuration at ${configFile}`, ExitCode.notInitialised, "run `profiles init` first");
  }
}

/** The live process that holds a lock, and the lock file. */
export interface LockHolder {
  pid: number;
  command: string;
  file: string;
}

/** Another process holds a lock this command needs. */
export class BusyError extends AppError {
  override name = "BusyError";
  constructor(message: string, hint?: string, readonly holder?: LockHolder) {
    super(message, ExitCode.busy, hint);
  }
}

export class ManagerUnreachableError extends AppError {
  override name = "ManagerUnreachableError";
  constructor(readonly address: string, cause: string) {
    super(
      `cannot reach the systemd user manager at ${address}: ${cause}`,
      ExitCode.managerUnreachable,
      "log in as this user (or `loginctl enable-linger $USER`), set DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR, or run `npm run demo` for a private manager",
    );
  }
}

/** The manager refused or failed a request; `busName` is the D-Bus error name. */
export class SystemdError extends AppError {
  override name = "SystemdError";
  constructor(message: string, readonly busName?: string, hint?: string) {
    super(message, ExitCode.systemd, hint);
  }
}

/** A file of ours (config.ini, a .env) that cannot be read or does not parse. */
export class BadFileError extends AppError {
  override name = "BadFileError";
  constructor(readonly file: string, problem: string, hint?: string) {
    super(`${file}: ${problem}`, ExitCode.badFile, hint);
  }
}

/** `rollback` without `--to` found no known-good generation older than the current one. */
export class NoRollbackTargetError extends AppError {
  override name = "NoRollbackTargetError";
  constructor(readonly profile: string, current: number | null) {
    super(
      `profile "${profile}" has no known-good generation older than ${current === null ? "its .env (edited by hand)" : `generation ${current}`} that differs from it`,
      ExitCode.failed,
      `run \`profiles history ${profile}\`, then \`profiles rollback ${profile} --to GEN\``,
    );
  }
}

/** `logs` found no output to show: no log file yet, or neither a log dir nor journald. */
export class NothingToShowError extends AppError {
  override name = "NothingToShowError";
  constructor(message: string, hint: string) {
    super(message, ExitCode.failed, hint);
  }
}

/** `reload` of a profile whose template has no reload command (ExecReload=). */
export class NoReloadCommandError extends AppError {
  override name = "NoReloadCommandError";
  constructor(readonly profile: string) {
    super(
      `profile "${profile}" cannot be reloaded: the template unit has no reload command (ExecReload=)`,
      ExitCode.usage,
      "if your gateway re-reads its settings on a signal, run `profiles init --reload-signal HUP`; otherwise use `profiles restart`",
    );
  }
}

/** `start` (or a restart) of a profile that `profiles disable` keeps down. */
export class ProfileDisabledError extends AppError {
  override name = "ProfileDisabledError";
  constructor(readonly profile: string) {
    super(`profile "${profile}" is disabled (\`profiles disable\`): it is kept down, and not started`, ExitCode.usage, `run \`profiles enable ${profile}\` to enable and start it`);
  }
}

/** A job the manager queued did not finish in time (a Type=notify start whose READY=1 never came, a stuck stop). */
export class JobTimeoutError extends SystemdError {
  constructor(message: string, readonly unit: string, readonly timeoutMs: number, hint?: string) {
    super(message, undefined, hint);
    // Still a SystemdError to whatever reads the name (--json errors, callers across a process); code tells them apart with instanceof.
    this.name = "SystemdError";
  }
}

/** What an errno of the file system means, and how the operator puts it right (`dir`: where it happened). */
const FAULTS: Record<string, { what: string; fix: (dir: string, file: string) => string }> = {
  ENOSPC: { what: "no space left on the device", fix: (dir) => `free space on the file system that holds ${dir} (\`df -h ${dir}\`), then run the command again` },
  EDQUOT: { what: "the disk quota is exceeded", fix: (dir) => `free space within your quota on ${dir} (\`quota -s\`), or have it raised, then run the command again` },
  EROFS: { what: "the file system is read-only", fix: (dir) => `remount it read-write (\`findmnt -T ${dir}\` names it; \`sudo mount -o remount,rw MOUNTPOINT\`), then run the command again` },
  EACCES: { what: "permission denied", fix: (dir) => `run profiles as the user who owns ${dir} (\`ls -ld ${dir}\`), or make it yours again: \`sudo chown -R $USER ${dir}\` and \`chmod u+rwX ${dir}\`` },
  ENOTDIR: { what: "a part of its path is a file, not a directory", fix: (dir, file) => `${firstFileOnPath(file) ?? dir} is a file where a directory is needed: move it aside, or point what leads there (an XDG_*_HOME variable, \`init --log-dir\`) elsewhere` },
  // Only a mkdir's (see fileSystemFault): its parent is there (makeDirs made it), the file system makes none, as /proc.
  ENOENT: { what: "the file system makes no directory there", fix: (dir) => `point the XDG_*_HOME variable that leads to ${dir} at a directory of yours` },
  EPERM: { what: "operation not permitted", fix: (dir) => `run profiles as the user who owns ${dir} (\`ls -ld ${dir}\`); an immutable file shows an "i" in \`lsattr ${dir}\` (\`sudo chattr -i FILE\`)` },
};

// The syscalls of node's fs module: an EPERM of kill(2) or a socket is no file system fault.
const FS_SYSCALLS = new Set(["open", "read", "write", "close", "fsync", "fdatasync", "rename", "link", "unlink", "rmdir", "mkdir", "chmod", "fchmod", "chown", "fchown", "ftruncate", "copyfile", "scandir", "stat", "lstat", "fstat", "access", "utime", "futime", "symlink", "readlink", "realpath", "mkdtemp", "rm"]);

/**
 * The file system refused what we asked of it (disk full, read-only, permission): not a bug, and not a
 * file of ours that is wrong. Names the path, the errno in words, and the fix.
 */
export class FileSystemError extends AppError {
  override name = "FileSystemError";
  /** `via`: the symlink `file` was reached through; `hint` in place of the fault's own fix. */
  constructor(readonly file: string, readonly code: string, action: string, opts: { via?: string; hint?: string } = {}) {
    const fault = FAULTS[code] ?? { what: "the file system refused it", fix: (dir: string) => `look at ${dir} (\`ls -ld ${dir}\`, \`df -h ${dir}\`)` };
    const where = opts.via ? `${file} (which the symlink ${opts.via} points to)` : file;
    super(`cannot ${action} ${where}: ${fault.what} (${code})`, ExitCode.fileSystem, opts.hint ?? fault.fix(path.isAbsolute(file) ? path.dirname(file) : ".", file));
  }
}

/**
 * Standard output refused the command's output (`> FILE` on a full disk, a quota): the command's work is
 * done, only what it printed is lost, which must not end in exit 0 (a script would read an empty file).
 */
export class OutputError extends AppError {
  override name = "OutputError";
  /** `ranToEnd`: the output came after the command's work (all but `logs`, whose output is its work, and an error's JSON). */
  constructor(readonly code: string, ranToEnd = true) {
    super(
      `cannot write the output to standard output: ${FAULTS[code]?.what ?? "the write failed"} (${code})${ranToEnd ? "; the command itself ran to its end" : ""}`,
      ExitCode.fileSystem,
      "free space where standard output goes (`df -h FILE` of the file it is redirected to), or send it elsewhere; run a read-only command again to see its output",
    );
  }
}

/**
 * `err` as a FileSystemError when it is an errno of the file system listed above, else null; `path`
 * names the file meant (a write through a temporary file, or through a descriptor, reports another path or none).
 */
export function fileSystemFault(err: unknown, file?: string, action = "write"): FileSystemError | null {
  if (err instanceof FileSystemError) return err;
  const e = err as NodeJS.ErrnoException | null;
  if (!e || typeof e !== "object" || typeof e.code !== "string" || !(e.code in FAULTS)) return null;
  if (typeof e.syscall !== "string" || !FS_SYSCALLS.has(e.syscall)) return null;
  if (e.code === "ENOENT" && e.syscall !== "mkdir") return null;
  if (file) return new FileSystemError(file, e.code, action);
  const verb = READS.has(e.syscall) ? "read" : e.syscall === "open" ? "open" : "write";
  return new FileSystemError(e.path ?? `a file (${e.syscall})`, e.code, verb);
}

const READS = new Set(["read", "stat", "lstat", "fstat", "access", "scandir", "readlink", "realpath"]);

/** The first component of `dir` that exists and is not a directory, for ENOTDIR's fix. */
function firstFileOnPath(dir: string): string | null {
  let at = "/";
  for (const part of dir.split("/").filter((p) => p !== "")) {
    at = path.join(at, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(at, { throwIfNoEntry: false });
    } catch {
      return null;
    }
    if (!st) return null;
    if (!st.isDirectory()) return at;
  }
  return null;
}

/**
 * The sandbox the integration tests, the reliability suite and the bench share: a real, private
 * `systemd --user` for a throwaway user, started and stopped by scripts/user-manager.sh, and commands run
 * as that user. Needs root; `npm test` (scripts/test.sh) provides it and sets AP_APP_DIR.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvePaths, type Paths } from '../../src/paths.js';

/** Options of `Sandbox.exec`. */
export interface ExecOptions {
  /** Extra variables for the command, on top of `Sandbox.env`. */
  env?: Record<string, string>;
  /** Deadline after which the command and its process group are killed and `exec` rejects. */
  timeoutMs?: number;
  /** Written to the command's stdin; without it stdin is closed at once. */
  input?: string;
}

/** What a finished command did; `code` is 128 + signal number when a signal ended it. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throwaway user whose private `systemd --user` runs, as `user-manager.sh start` printed it. */
export interface SandboxUser {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** What a CLI process of the user needs: HOME, USER, LOGNAME, PATH, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Whether units' output goes to a journald the user's commands can read: the host's (linger mode) or
   * the sandbox's own (namespace mode, unless started with AP_SANDBOX_JOURNAL=0).
   */
  readonly journal: boolean;
  /** What runs a command in the sandbox's mount namespace (`nsenter ...`), where its journald is seen; [] when none. */
  readonly enter: readonly string[];
}

/** A running user manager and the user it belongs to. */
export interface Sandbox extends SandboxUser {
  /** PID of the `systemd --user` process itself. */
  readonly managerPid: number;
  /** The sandbox's own systemd-journald (namespace mode) and its files; null where there is none of its own. */
  readonly journald: { pid: number; dir: string } | null;
  /** The manager's stdout/stderr; removed by `stop()`. */
  readonly managerLog: string;
  /** The copy of the app the user can read (AP_APP_DIR); throws outside `npm test`. */
  readonly appDir: string;
  /** Runs `cmd` as the user, in their home, with `env` plus `opts.env`. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs the CLI (`node <appDir>/dist/src/cli.cjs ...args`) as the user. */
  profiles(args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Stops the manager and removes the user, its home and runtime dir; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Starts the manager again after it exited (e.g. a test sent it SIGTERM): same user, home and units, a
   * fresh runtime dir; `managerPid` then names the new manager. Rejects while the old one still runs.
   */
  restartManager(): Promise<void>;
}

/** Thrown by `Sandbox.exec` when the deadline passes; carries what the command printed until then. */
export class ExecTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    readonly partial: { stdout: string; stderr: string },
  ) {
    super(
      `timed out after ${timeoutMs} ms and killed: ${command}\n` +
        `--- stdout ---\n${partial.stdout}\n--- stderr ---\n${partial.stderr}`,
    );
    this.name = 'ExecTimeoutError';
  }
}

const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const SCRIPT_TIMEOUT_MS = 60_000;

/** The copy of the app a sandbox user can read, made by scripts/test.sh. */
export function appDir(): string {
  const dir = process.env.AP_APP_DIR;
  if (!dir) {
    throw new Error(
      'AP_APP_DIR is not set: run the integration tests through `npm test` (scripts/test.sh), ' +
        'which copies the built app where a sandbox user can read it',
    );
  }
  return dir;
}

/** A script of scripts/: the staged app's copy (AP_APP_DIR) where there is one, else the repository's. */
export function scriptPath(name = 'user-manager.sh'): string {
  const dir = process.env.AP_APP_DIR;
  if (dir) return join(dir, 'scripts', name);
  // Compiled to dist/test/helpers/, three levels below the repository.
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts', name);
}

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** A finished child: its output and exit code, and whether the deadline killed it. */
export interface Collected extends ExecResult {
  timedOut: boolean;
}

/**
 * Collects a spawned child's output until it exits; `code` is 128 + signal number when a signal ended it.
 * Past `timeoutMs` the child (with `group`, its whole process group) is SIGKILLed.
 */
function collect(child: ChildProcess, opts: { timeoutMs?: number; input?: string; group?: boolean }): Promise<Collected> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // A command that exits without reading its input must not fail the call with EPIPE.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(opts.group ? -child.pid : child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const signalCode = signal ? 128 + (constants.signals[signal] ?? 0) : 1;
      resolvePromise({ code: code ?? signalCode, stdout, stderr, timedOut });
    });
  });
}

/** Runs a command as root in its own process group, so that a deadline can kill all it started. */
export async function run(cmd: string, args: string[], timeoutMs: number, input?: string): Promise<ExecResult> {
  const child = spawn(cmd, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const { timedOut, ...r } = await collect(child, { timeoutMs, input, group: true });
  if (timedOut) throw new ExecTimeoutError(describe(cmd, args), timeoutMs, { stdout: r.stdout, stderr: r.stderr });
  return r;
}

/** A command started as a sandbox user; `pid` is the command's own once setpriv and env have exec'd. */
export interface Spawned {
  pid: number;
  done: Promise<Collected>;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** Resolves once its stdout (or `from` stderr) so far matches `re`; rejects after `ms`, or when it exits without. */
  until(re: RegExp, ms?: number, from?: "stdout" | "stderr"): Promise<void>;
  /**
   * Sends it `signal`; false when it had exited already (a moment picked at random may fall after its
   * end). Through node's handle of the child, which sends nothing once it has reaped it, so never to
   * another process given the same PID.
   */
  kill(signal: NodeJS.Signals): boolean;
}

/**
 * The command line that runs `argv` as the user in their namespace, with their environment plus `env`
 * (setpriv and env exec, as nsenter into a mount namespace does: the PID stays the command's); for a
 * terminal (tmux) to run, too.
 */
export function asUserArgv(user: SandboxUser, argv: readonly string[], env: Record<string, string> = {}): [string, ...string[]] {
  const vars = Object.entries({ ...user.env, ...env }).map(([k, v]) => `${k}=${v}`);
  const setpriv = ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', 'env', '-i', ...vars, ...argv];
  return [...user.enter, ...setpriv] as [string, ...string[]];
}

/**
 * Starts `argv` as the user without the user-manager.sh wrapper: setpriv and env exec, so that the PID
 * ends up the command's own (a SIGKILL hits it), in the user's home with their environment plus `env`.
 */
export function spawnAsUser(user: SandboxUser, argv: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Spawned {
  const [cmd, ...args] = asUserArgv(user, argv, opts.env);
  const child = spawn(cmd, args, { cwd: user.home, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const done = collect(child, { timeoutMs: opts.timeoutMs });
  if (child.pid === undefined) throw new Error('spawn setpriv gave no pid');
  const until = (re: RegExp, ms = 15_000, from: 'stdout' | 'stderr' = 'stdout'): Promise<void> =>
    new Promise((resolvePromise, reject) => {
      const text = (): string => (from === 'stdout' ? out : err);
      const stream = from === 'stdout' ? child.stdout : child.stderr;
      const stop = (): void => {
        clearTimeout(deadline);
        stream.off('data', look);
        child.off('close', exited);
      };
      const fail = (why: string): void => {
        stop();
        reject(new Error(`${why}: no ${re} in ${from}; stdout ${JSON.stringify(out)}; stderr ${JSON.stringify(err)}`));
      };
      const look = (): void => {
        if (!re.test(text())) return;
        stop();
        resolvePromise();
      };
      const exited = (): void => (re.test(text()) ? look() : fail('exited'));
      const deadline = setTimeout(() => fail(`after ${ms} ms`), ms);
      stream.on('data', look);
      child.on('close', exited);
      look();
    });
  return { pid: child.pid, done, stdout: () => out, until, kill: (signal) => child.exitCode === null && child.signalCode === null && child.kill(signal) };
}

/** The CLI (`node <appDir>/dist/src/cli.cjs ...args`) as the sandbox user, through `spawnAsUser`. */
export function spawnCli(sb: Sandbox, args: string[], env: Record<string, string> = {}): Spawned {
  return spawnAsUser(sb, ['node', join(sb.appDir, 'dist', 'src', 'cli.cjs'), ...args], { env });
}

/** The user's tool paths (config, state), as the CLI resolves them from the sandbox's HOME. */
export function userPaths(sb: SandboxUser): Paths {
  return resolvePaths({ HOME: sb.home });
}

/** The KEY=VALUE lines a script of scripts/ prints, by key. */
export function parseLines(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return values;
}

function required(values: Map<string, string>, key: string, output: string): string {
  const value = values.get(key);
  if (!value) throw new Error(`user-manager.sh start printed no ${key}; it printed:\n${output}`);
  return value;
}

/** The user that the KEY=VALUE lines `user-manager.sh start` prints describe (scripts/bench.sh saves them to a file). */
export function sandboxUser(printed: string): SandboxUser {
  const values = parseLines(printed);
  const get = (key: string): string => required(values, key, printed);
  const user = get('AP_USER');
  const home = get('AP_HOME');
  const namespace = values.get('AP_MODE') !== 'linger';
  const journal = values.get('AP_JOURNAL') === 'yes';
  const journaldPid = values.get('AP_JOURNALD_PID');
  return {
    user,
    journal,
    enter: namespace && journal && journaldPid ? ['nsenter', '-t', journaldPid, '-m', `--wd=${home}`] : [],
    uid: Number(get('AP_UID')),
    gid: Number(get('AP_GID')),
    home,
    env: Object.freeze({
      HOME: home,
      USER: user,
      LOGNAME: user,
      PATH: get('AP_PATH'),
      XDG_RUNTIME_DIR: get('XDG_RUNTIME_DIR'),
      DBUS_SESSION_BUS_ADDRESS: get('DBUS_SESSION_BUS_ADDRESS'),
    }),
  };
}

/**
 * The names a script of scripts/ started and nobody stopped yet: `bash SCRIPT stop NAME` runs for each
 * still there when this process exits, even if a test forgot to stop it.
 */
export function stoppedOnExit(script: string): Set<string> {
  const names = new Set<string>();
  process.once('exit', () => {
    for (const name of names) spawnSync('bash', [script, 'stop', name], { stdio: 'inherit', timeout: SCRIPT_TIMEOUT_MS });
  });
  return names;
}

// Sandboxes not yet stopped, removed when this process exits even if a test forgot to.
let running: Set<string> | undefined;

/** Creates a fresh user and starts its `systemd --user`; resolves once the manager answers on the user bus. */
export async function startSandbox(opts: { journal?: boolean } = {}): Promise<Sandbox> {
  const script = scriptPath();
  const started = await run('env', [`AP_SANDBOX_JOURNAL=${opts.journal === false ? 0 : 1}`, 'bash', script, 'start'], SCRIPT_TIMEOUT_MS);
  if (started.code !== 0) {
    throw new Error(`user-manager.sh start failed (exit ${started.code}):\n${started.stderr}${started.stdout}`);
  }
  const values = parseLines(started.stdout);
  const get = (key: string): string => required(values, key, started.stdout);
  const who = sandboxUser(started.stdout);
  const user = who.user;
  running ??= stoppedOnExit(script);
  running.add(user);

  const exec = (cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> => {
    const assignments = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    return run(
      'bash',
      [script, 'exec', user, ...assignments, '--', cmd, ...args],
      opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
      opts.input,
    );
  };

  let managerPid = Number(get('AP_MANAGER_PID'));
  let current = who;
  const journaldOf = (v: Map<string, string>): { pid: number; dir: string } | null =>
    v.get('AP_JOURNALD_PID') && v.get('AP_JOURNAL_DIR') ? { pid: Number(v.get('AP_JOURNALD_PID')), dir: v.get('AP_JOURNAL_DIR')! } : null;
  let journald = journaldOf(values);

  return {
    ...who,
    get managerPid() {
      return managerPid;
    },
    get enter() {
      return current.enter;
    },
    get journald() {
      return journald;
    },
    managerLog: get('AP_MANAGER_LOG'),
    get appDir() {
      return appDir();
    },
    exec,
    profiles: (args, opts) => exec('node', [join(appDir(), 'dist', 'src', 'cli.cjs'), ...args], opts),
    async stop() {
      const stopped = await run('bash', [script, 'stop', user], SCRIPT_TIMEOUT_MS);
      if (stopped.code !== 0) {
        throw new Error(`user-manager.sh stop ${user} failed (exit ${stopped.code}):\n${stopped.stderr}`);
      }
      running?.delete(user);
    },
    async restartManager() {
      const restarted = await run('bash', [script, 'start-manager', user], SCRIPT_TIMEOUT_MS);
      if (restarted.code !== 0) {
        throw new Error(`user-manager.sh start-manager ${user} failed (exit ${restarted.code}):\n${restarted.stderr}${restarted.stdout}`);
      }
      managerPid = Number(required(parseLines(restarted.stdout), 'AP_MANAGER_PID', restarted.stdout));
      // Its journald is new too, in the new manager's namespace.
      current = sandboxUser(restarted.stdout);
      journald = journaldOf(parseLines(restarted.stdout));
    },
  };
}

/**
 * A fleet of ssh "hosts" on this machine for tests of `profiles --host`: each host a sandbox (its own
 * user and `systemd --user`) behind its own sshd on a loopback address (scripts/ssh-hosts.sh), and one
 * more sandbox, the driver, whose ssh config reaches them all by name. Needs root and AP_APP_DIR, as
 * sandbox.ts does.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseLines, run, scriptPath, startSandbox, stoppedOnExit, type ExecOptions, type ExecResult, type Sandbox } from './sandbox.js';

/** One host to start: `name` is its ssh alias; `profiles` replaces what `profiles` runs there. */
export interface FleetHostSpec {
  name: string;
  /** A loopback address of its own, 127.0.0.N. */
  addr: string;
  /** The command line `profiles` runs on that host ("$@" appended); default `node $AP_APP_DIR/dist/src/cli.cjs`. */
  profiles?: string;
}

/** Options of `startFleet`. */
export interface FleetOptions {
  /** The port every host's sshd listens on, at its own address; 2222 by default. */
  port?: number;
  /** Passed to every `startSandbox`: false starts the sandboxes without a journald. */
  journal?: boolean;
}

/** A running host: its sshd at `addr:port`, letting in `sb.user` alone. */
export interface FleetHost {
  /** Its alias in the driver's ssh config (`ssh -F sshConfig NAME`). */
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  /** The host's user and user manager; ssh sessions run as `sb.user` with `sb`'s bus. */
  readonly sb: Sandbox;
  /** Its name for scripts/ssh-hosts.sh (`stop`, `list`): `name` and a random suffix, so that test files never collide. */
  readonly id: string;
  /** Its host key, as the driver's known_hosts pins it (`ssh-ed25519 AAAA... comment`). */
  readonly hostKey: string;
}

/** The driver, the hosts it reaches over ssh, and what stops them all. */
export interface Fleet {
  /** The user that runs `profiles --host ...` and `ssh`. */
  readonly driver: Sandbox;
  readonly hosts: readonly FleetHost[];
  /** The driver's ssh config (`ssh -F`), with a `Host` block for each host; its directory is the driver's alone. */
  readonly sshConfig: string;
  /** Runs `cmd` as the driver with `AP_SSH_CONFIG=<sshConfig>` in its environment. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs the CLI as the driver with `AP_SSH_CONFIG=<sshConfig>` in its environment. */
  profiles(args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs `argv` on `host` as the driver: `ssh -F sshConfig [sshOptions...] HOST argv`, each word quoted for the remote shell. */
  ssh(host: string, argv: string[], opts?: ExecOptions & { sshOptions?: string[] }): Promise<ExecResult>;
  /** Stops every sshd, then every sandbox, even when one fails; rejects naming all that failed. Safe to call twice. */
  stop(): Promise<void>;
}

const SCRIPT_TIMEOUT_MS = 60_000;

/** One word for a POSIX shell, quoted unless it needs none. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs scripts/ssh-hosts.sh as root; rejects with its output unless it exits 0. */
async function sshHosts(args: string[]): Promise<Map<string, string>> {
  const r = await run('bash', [scriptPath('ssh-hosts.sh'), ...args], SCRIPT_TIMEOUT_MS);
  if (r.code !== 0) throw new Error(`ssh-hosts.sh ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return parseLines(r.stdout);
}

// Hosts not yet stopped (their ids), stopped when this process exits even if a test forgot to. Whether
// before or after their sandboxes does not matter: an sshd whose user is gone only holds its address.
let running: Set<string> | undefined;

/** Runs every step, even when one fails; rejects naming all that failed. */
async function all(what: string, steps: (() => Promise<unknown>)[]): Promise<void> {
  const failed: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failed.push(err);
    }
  }
  if (failed.length) throw new AggregateError(failed, `${what}: ${failed.map((e) => (e instanceof Error ? e.message : String(e))).join('\n')}`);
}

/**
 * Starts a sandbox per host and one for the driver, an sshd per host (scripts/ssh-hosts.sh start), and
 * authorizes the driver on each; what it started is stopped again when a step fails.
 */
export async function startFleet(specs: FleetHostSpec[], opts: FleetOptions = {}): Promise<Fleet> {
  for (const spec of specs) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,21}$/.test(spec.name)) throw new Error(`host name '${spec.name}': want [A-Za-z0-9][A-Za-z0-9_-]*, at most 22 chars`);
  }
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new Error('host names must differ');
  const live = (running ??= stoppedOnExit(scriptPath('ssh-hosts.sh')));
  const sandboxes: Sandbox[] = [];
  const hosts: FleetHost[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    await all('stopping the fleet', [
      ...hosts.map((h) => async () => {
        await sshHosts(['stop', h.id]);
        live.delete(h.id);
      }),
      ...sandboxes.map((sb) => () => sb.stop()),
    ]);
    stopped = true;
  };

  try {
    // One at a time: startSandbox serialises on user-manager.sh's lock anyway, and a failure stops early.
    const driver = await startSandbox({ journal: opts.journal });
    sandboxes.push(driver);
    const dir = join(driver.home, '.ssh-fleet');
    for (const spec of specs) {
      const sb = await startSandbox({ journal: opts.journal });
      sandboxes.push(sb);
      const id = `${spec.name}-${randomBytes(4).toString('hex')}`;
      const args = ['start', id, '--addr', spec.addr, '--user', sb.user];
      if (opts.port !== undefined) args.push('--port', String(opts.port));
      if (spec.profiles !== undefined) args.push('--profiles', spec.profiles);
      live.add(id);
      const started = await sshHosts(args).catch((err: unknown) => {
        live.delete(id);
        throw err;
      });
      const port = started.get('AP_SSH_PORT');
      const hostKey = started.get('AP_SSH_HOST_KEY');
      hosts.push({ name: spec.name, addr: spec.addr, port: Number(port), sb, id, hostKey: hostKey ?? '' });
      if (!port || !hostKey) throw new Error(`ssh-hosts.sh start ${id} printed no AP_SSH_PORT or AP_SSH_HOST_KEY`);
      await sshHosts(['authorize', id, '--alias', spec.name, '--client-user', driver.user, '--dir', dir]);
    }
    const sshConfig = join(dir, 'config');
    const withConfig = (o: ExecOptions = {}): ExecOptions => ({ ...o, env: { AP_SSH_CONFIG: sshConfig, ...o.env } });
    return {
      driver,
      hosts,
      sshConfig,
      exec: (cmd, args, o) => driver.exec(cmd, args, withConfig(o)),
      profiles: (args, o) => driver.profiles(args, withConfig(o)),
      ssh: (host, argv, o = {}) => driver.exec('ssh', ['-F', sshConfig, ...(o.sshOptions ?? []), host, ...argv.map(shellQuote)], o),
      stop,
    };
  } catch (err) {
    await stop().catch((stopErr: unknown) => {
      throw new AggregateError([err, stopErr], `startFleet failed, and so did stopping what it started: ${String(err)}\n${String(stopErr)}`);
    });
    throw err;
  }
}

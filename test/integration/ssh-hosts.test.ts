// Proves the fleet harness (scripts/ssh-hosts.sh, test/helpers/ssh-hosts.ts): two loopback ssh hosts,
// each its own sandbox user and user manager, reached by the driver with its own ssh config only; a
// multiplexed command is cheap; a wrong host key is refused before anything runs; stop() leaves nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hasStopped } from '../helpers/proc-readings.js';
import { type ExecResult } from '../helpers/sandbox.js';
import { startFleet, type Fleet, type FleetHost } from '../helpers/ssh-hosts.js';

let fleet: Fleet;
let hostA: FleetHost;
let hostB: FleetHost;

before(async () => {
  // Addresses 127.0.0.20-29 are this file's; other fleet tests use others.
  fleet = await startFleet([
    { name: 'hostA', addr: '127.0.0.20' },
    { name: 'hostB', addr: '127.0.0.21' },
  ]);
  [hostA, hostB] = fleet.hosts as [FleetHost, FleetHost];
});

after(async () => {
  if (fleet) await fleet.stop();
});

async function ok(pending: Promise<ExecResult>): Promise<string> {
  const r = await pending;
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout.trim();
}

/** The PID of the process that owns `org.freedesktop.systemd1` on the bus the command sees: its user manager. */
const managerPidArgv = ['busctl', '--user', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
  'GetConnectionUnixProcessID', 's', 'org.freedesktop.systemd1'];

test('the driver runs profiles on each host by its alias, as that host\'s user', async () => {
  const { version } = JSON.parse(readFileSync(join(fleet.driver.appDir, 'package.json'), 'utf8')) as { version: string };
  for (const host of [hostA, hostB]) {
    assert.equal(await ok(fleet.ssh(host.name, ['profiles', '--version'])), version);
    assert.equal(await ok(fleet.ssh(host.name, ['id', '-un'])), host.sb.user);
  }
  assert.notEqual(hostA.sb.user, fleet.driver.user);
  // What the CLI will pass as `ssh -F`.
  assert.equal(await ok(fleet.exec('sh', ['-c', 'echo "$AP_SSH_CONFIG"'])), fleet.sshConfig);
});

test("the driver's ssh directory, key and config are the driver's alone", () => {
  const dir = dirname(fleet.sshConfig);
  for (const [path, mode] of [[dir, 0o700], [fleet.sshConfig, 0o600], [join(dir, 'id_ed25519'), 0o600], [join(dir, 'known_hosts'), 0o600]] as const) {
    const st = statSync(path);
    assert.equal(st.uid, fleet.driver.uid, path);
    assert.equal(st.mode & 0o777, mode, `${path}: mode ${(st.mode & 0o777).toString(8)}`);
  }
  for (const host of [hostA, hostB]) {
    const st = statSync(join(host.sb.home, '.ssh', 'authorized_keys'));
    assert.equal(st.uid, host.sb.uid);
    assert.equal(st.mode & 0o777, 0o600);
  }
});

test("a session reaches that host's own user manager over its bus", async () => {
  for (const host of [hostA, hostB]) {
    assert.match(await ok(fleet.ssh(host.name, ['systemctl', '--user', 'is-system-running'])), /^(running|degraded)$/);
    assert.equal(await ok(fleet.ssh(host.name, managerPidArgv)), `u ${host.sb.managerPid}`);
  }
  assert.notEqual(hostA.sb.managerPid, hostB.sb.managerPid);
});

test('a ControlMaster makes the second command cheap', async (t) => {
  // Timed inside one shell of the driver's, so that the figures are ssh's alone.
  const script = `
    set -e
    dir=$HOME/.ssh-mux
    mkdir -p -m 0700 "$dir"
    ms() { local t=\${EPOCHREALTIME/./}; echo $((t / 1000)); }
    mux="-o ControlMaster=auto -o ControlPath=$dir/%C -o ControlPersist=60"
    t0=$(ms); ssh -F "$AP_SSH_CONFIG" hostA true; t1=$(ms)
    ssh -F "$AP_SSH_CONFIG" $mux hostA true; t2=$(ms)
    ssh -F "$AP_SSH_CONFIG" $mux hostA true; t3=$(ms)
    ssh -F "$AP_SSH_CONFIG" $mux hostA profiles --version >/dev/null; t4=$(ms)
    ssh -F "$AP_SSH_CONFIG" $mux -O check hostA 2>/dev/null
    ssh -F "$AP_SSH_CONFIG" $mux -O exit hostA 2>/dev/null
    echo "plain=$((t1 - t0)) first=$((t2 - t1)) second=$((t3 - t2)) profiles=$((t4 - t3)) mode=$(stat -c %a "$dir")"
  `;
  const out = await ok(fleet.exec('bash', ['-c', script]));
  const figures = Object.fromEntries(out.split(' ').map((kv) => kv.split('='))) as Record<string, string>;
  t.diagnostic(
    `ssh hostA true: ${figures.plain} ms without multiplexing; with ControlMaster ${figures.first} ms (the master) ` +
      `then ${figures.second} ms; profiles --version through the master ${figures.profiles} ms`,
  );
  assert.equal(figures.mode, '700');
  assert.ok(Number(figures.second) < Number(figures.first), out);
});

test('a host key other than the pinned one is refused and nothing runs', async () => {
  // hostB's own key, pinned for hostA's address: what a man in the middle would show.
  const badKnownHosts = join(fleet.driver.home, 'bad_known_hosts');
  await ok(fleet.driver.exec('sh', ['-c', 'umask 077 && printf "%s\\n" "$1" > "$2"', 'sh',
    `[${hostA.addr}]:${hostA.port} ${hostB.hostKey.split(' ').slice(0, 2).join(' ')}`, badKnownHosts]));
  const marker = join(hostA.sb.home, 'ran-despite-wrong-key');
  const r = await fleet.ssh(hostA.name, ['touch', marker], { sshOptions: ['-o', `UserKnownHostsFile=${badKnownHosts}`] });
  assert.equal(r.code, 255, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  assert.equal(existsSync(marker), false);
  // The pinned key still lets the same command in.
  await ok(fleet.ssh(hostA.name, ['true']));
});

test('stop() stops every sshd and removes its files', async () => {
  const pids = fleet.hosts.map((h) => Number(readFileSync(`/run/agent-profiles-ssh/${h.id}/sshd.pid`, 'utf8')));
  await fleet.stop();
  for (const h of fleet.hosts) assert.equal(existsSync(`/run/agent-profiles-ssh/${h.id}`), false, h.id);
  for (const pid of pids) assert.ok(hasStopped(pid), `sshd ${pid} still runs`);
  assert.equal(existsSync(fleet.driver.home), false);
});

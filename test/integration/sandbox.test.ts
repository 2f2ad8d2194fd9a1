// Proves the harness: a real user manager starts, answers on its bus, runs units as the sandbox user,
// and stop() leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hasStopped, procUid } from '../helpers/proc-readings.js';
import { ExecTimeoutError, startSandbox, type ExecResult, type Sandbox } from '../helpers/sandbox.js';

let sandbox: Sandbox;
let stopped = false;

before(async () => {
  sandbox = await startSandbox();
});

after(async () => {
  if (sandbox && !stopped) await sandbox.stop();
});

async function ok(pending: Promise<ExecResult>): Promise<string> {
  const r = await pending;
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout.trim();
}

/** Polls `probe` every 50 ms until it returns true; fails with `what` once `timeoutMs` has passed. */
async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the manager answers on the user bus and runs as the sandbox user', async () => {
  const version = await ok(
    sandbox.exec('busctl', ['--user', 'get-property', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager', 'Version']),
  );
  assert.match(version, /^s "\d+/);
  const state = await ok(sandbox.exec('systemctl', ['--user', 'show', '--property=SystemState', '--value']));
  assert.match(state, /^(running|degraded)$/);

  assert.equal(readlinkSync(`/proc/${sandbox.managerPid}/exe`), '/usr/lib/systemd/systemd');
  assert.equal(procUid(sandbox.managerPid), sandbox.uid);
  const managerEnv = await ok(
    sandbox.exec('busctl', ['--user', 'get-property', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager', 'Environment']),
  );
  assert.match(managerEnv, new RegExp(`XDG_RUNTIME_DIR=/run/user/${sandbox.uid}\\b`));
});

test('exec runs as the user with the sandbox env, passes exit codes, input and a deadline', async () => {
  const out = await ok(
    sandbox.exec('node', ['-e', 'console.log(JSON.stringify({ uid: process.getuid(), cwd: process.cwd(), env: process.env }))'],
      { env: { AP_SMOKE: 'x y=z' } }),
  );
  const seen = JSON.parse(out) as { uid: number; cwd: string; env: Record<string, string> };
  assert.equal(seen.uid, sandbox.uid);
  assert.equal(seen.cwd, sandbox.home);
  for (const [key, value] of Object.entries(sandbox.env)) assert.equal(seen.env[key], value, key);
  assert.equal(seen.env.AP_SMOKE, 'x y=z');
  assert.equal(seen.env.SUDO_USER, undefined);

  assert.equal((await sandbox.exec('sh', ['-c', 'exit 7'])).code, 7);
  assert.equal(await ok(sandbox.exec('cat', [], { input: 'from stdin' })), 'from stdin');
  await assert.rejects(sandbox.exec('sleep', ['30'], { timeoutMs: 300 }), ExecTimeoutError);
});

test('a unit file in ~/.config/systemd/user loads, starts as the user and stops', async () => {
  const unit = `aptest-smoke-${process.pid}.service`;
  await ok(
    sandbox.exec('sh', ['-c', 'mkdir -p "$HOME/.config/systemd/user" && cat > "$HOME/.config/systemd/user/$1"', 'sh', unit], {
      input: '[Service]\nExecStart=/bin/sh -c \'id -u > %t/smoke.uid; exec sleep infinity\'\n',
    }),
  );
  await ok(sandbox.exec('systemctl', ['--user', 'daemon-reload']));
  await ok(sandbox.exec('systemctl', ['--user', 'start', unit]));
  await waitFor(`${unit} to be active`, async () => (await sandbox.exec('systemctl', ['--user', 'is-active', unit])).stdout.trim() === 'active');

  const mainPid = Number(await ok(sandbox.exec('systemctl', ['--user', 'show', '--property=MainPID', '--value', unit])));
  assert.ok(mainPid > 0);
  assert.equal(procUid(mainPid), sandbox.uid);
  assert.match(readFileSync(`/proc/${mainPid}/cgroup`, 'utf8'), new RegExp(`user@${sandbox.uid}\\.service/app\\.slice/${unit.replace(/\./g, '\\.')}`));
  await waitFor('the unit to write %t/smoke.uid', async () => existsSync(`${sandbox.env.XDG_RUNTIME_DIR}/smoke.uid`));
  assert.equal(readFileSync(`${sandbox.env.XDG_RUNTIME_DIR}/smoke.uid`, 'utf8').trim(), String(sandbox.uid));

  await ok(sandbox.exec('systemctl', ['--user', 'stop', unit]));
  const inactive = await sandbox.exec('systemctl', ['--user', 'is-active', unit]);
  assert.deepEqual([inactive.code, inactive.stdout.trim()], [3, 'inactive']);
});

test('a transient unit runs and reports its exit status', async () => {
  assert.equal((await sandbox.exec('systemd-run', ['--user', '--wait', '--collect', '--quiet', '/bin/true'])).code, 0);
  assert.equal((await sandbox.exec('systemd-run', ['--user', '--wait', '--collect', '--quiet', '/bin/sh', '-c', 'exit 3'])).code, 3);
});

test("units' output reaches journald, and journalctl --user as the user reads it", async (t) => {
  assert.ok(sandbox.journal, 'a sandbox has a journald unless started with AP_SANDBOX_JOURNAL=0');
  if (sandbox.journald) {
    assert.equal(readlinkSync(`/proc/${sandbox.journald.pid}/exe`), '/usr/lib/systemd/systemd-journald');
    assert.equal(procUid(sandbox.journald.pid), 0);
    // Not among the user's processes: neither kill_leftovers nor the unit's cgroup may count it.
    assert.doesNotMatch(readFileSync(`/proc/${sandbox.journald.pid}/cgroup`, 'utf8'), /user@\d+\.service/);
  } else {
    t.diagnostic('linger mode: the host\'s own journald');
  }
  const marker = `journal-smoke-${process.pid}-${Date.now()}`;
  await ok(sandbox.exec('systemd-run', ['--user', '--wait', '--collect', '--quiet', '--unit', 'aptest-journal', '/bin/echo', marker]));
  // The line itself, not the manager's "Started ... /bin/echo MARKER", which names the command and may come first.
  let json = '';
  const echoed = () => json.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>).find((e) => e.MESSAGE === marker);
  await waitFor('the line in the journal', async () => {
    json = await ok(sandbox.exec('journalctl', ['--user', '-u', 'aptest-journal', '-o', 'json', '--no-pager', '-n', '20']));
    return echoed() !== undefined;
  });
  const entry = echoed();
  assert.ok(entry, json);
  assert.equal(entry._SYSTEMD_USER_UNIT, 'aptest-journal.service');
  assert.equal(entry._UID, String(sandbox.uid));
  assert.equal(entry._TRANSPORT, 'stdout');
});

test('AP_SANDBOX_JOURNAL=0: a sandbox without journald, whose units write nowhere', async (t) => {
  const bare = await startSandbox({ journal: false });
  try {
    if (bare.enter.length === 0 && bare.journal) {
      t.diagnostic('linger mode: the host runs journald, a sandbox cannot go without it');
      return;
    }
    assert.equal(bare.journal, false);
    assert.equal(bare.journald, null);
    const socket = await bare.exec('test', ['-S', '/run/systemd/journal/stdout']);
    assert.equal(socket.code, 1, 'no journald socket seen by the user');
    assert.equal((await bare.exec('systemd-run', ['--user', '--wait', '--collect', '--quiet', '/bin/true'])).code, 0);
  } finally {
    await bare.stop();
  }
});

test('stop removes the manager, journald and its files, the user, its home, runtime dir and cgroups, and may run twice', async () => {
  const { user, uid, home, managerPid, journald } = sandbox;
  await sandbox.stop();
  stopped = true;

  assert.ok(hasStopped(managerPid), `manager ${managerPid} still running`);
  if (journald) {
    assert.ok(hasStopped(journald.pid), `journald ${journald.pid} still running`);
    assert.equal(existsSync(journald.dir), false, journald.dir);
  }
  assert.equal(spawnSync('getent', ['passwd', user]).status, 2, `user ${user} still exists`);
  assert.equal(existsSync(home), false);
  assert.equal(existsSync(`/run/user/${uid}`), false);
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup']) {
    assert.equal(existsSync(`${root}/user.slice/user-${uid}.slice`), false, root);
  }
  const pids = spawnSync('ps', ['-o', 'pid=,stat=', '-u', String(uid)], { encoding: 'utf8' }).stdout;
  assert.deepEqual(pids.split('\n').filter((l) => l.trim() && !/\sZ/.test(l)), [], 'processes of the user remain');

  await sandbox.stop();
});

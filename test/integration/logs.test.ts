import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { spawnCli, startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only (doctor.test.ts has 18820-18834).
const RANGE = "18835-18849";
const PORT = 18835;

let sb: Sandbox;
let logDir: string;

async function profiles(args: string[]) {
  return sb.profiles(args, { timeoutMs: 60_000 });
}

before(async () => {
  sb = await startSandbox();
  logDir = path.join(sb.home, "logs");
  const init = await profiles(["init", "--range", RANGE, "--log-dir", logDir]);
  assert.equal(init.code, 0, init.stderr);
  const add = await profiles(["add", "liam", "--port", String(PORT)]);
  assert.equal(add.code, 0, add.stderr);
});

after(async () => {
  await sb?.stop();
});

/** `logs --json`'s output: one object a line, nothing else. */
function jsonLines(stdout: string): { profile: string; time: string | null; stream: string | null; message: string }[] {
  return stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { profile: string; time: string | null; stream: string | null; message: string });
}

test("logs shows the gateway's own lines from the log dir", async () => {
  const r = await profiles(["logs", "liam"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^agent-gateway liam listening on http://127\\.0\\.0\\.1:${PORT}$`, "m"));
  // --json: one object a line and nothing else, as for several profiles and from the journal.
  const j = await profiles(["logs", "liam", "--json"]);
  assert.equal(j.code, 0, j.stderr);
  const data = jsonLines(j.stdout);
  assert.ok(data.every((l) => l.profile === "liam" && l.time === null && l.stream === null), j.stdout);
  assert.ok(data.some((l) => l.message === `agent-gateway liam listening on http://127.0.0.1:${PORT}`), j.stdout);
});

test("logs -n 1 gives the last line only", async () => {
  // A restart adds the gateway's closing line and a second listening line.
  const restart = await profiles(["restart", "liam"]);
  assert.equal(restart.code, 0, restart.stderr);
  const all = (await profiles(["logs", "liam"])).stdout.trimEnd().split("\n");
  assert.ok(all.length >= 3, all.join("\n"));
  const one = await profiles(["logs", "liam", "-n", "1"]);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(one.stdout.trimEnd().split("\n"), [all.at(-1)]);
  assert.match(one.stdout, /listening on/);
  const two = await profiles(["logs", "liam", "--lines", "2", "--json"]);
  assert.deepEqual(jsonLines(two.stdout).map((l) => l.message), all.slice(-2));
});

test("logs -f shows what the gateway writes after it started, and exits 0 on SIGINT", async () => {
  const f = spawnCli(sb, ["logs", "liam", "-f", "-n", "1"]);
  try {
    await f.until(/listening on/);
    const restart = await profiles(["restart", "liam"]);
    assert.equal(restart.code, 0, restart.stderr);
    await f.until(/liam: SIGTERM, closing\n[\s\S]*listening on/);
    process.kill(f.pid, "SIGINT");
    assert.equal((await f.done).code, 0);
    assert.equal(f.stdout().match(/listening on/g)?.length, 2, f.stdout());
  } finally {
    try {
      process.kill(f.pid, "SIGKILL");
    } catch {
      // Already exited.
    }
  }
});

test("logs -f --json: one JSON object per new line and nothing else; SIGTERM exits 0", async () => {
  const f = spawnCli(sb, ["logs", "liam", "-f", "-n", "1", "--json"]);
  try {
    await f.until(/"message":"agent-gateway liam listening on/);
    const restart = await profiles(["restart", "liam"]);
    assert.equal(restart.code, 0, restart.stderr);
    await f.until(/SIGTERM, closing[\s\S]*listening on/);
    process.kill(f.pid, "SIGTERM");
    assert.equal((await f.done).code, 0);
    const lines = jsonLines(f.stdout());
    assert.ok(lines.length >= 3, f.stdout());
    for (const l of lines) assert.equal(l.profile, "liam");
    // The last line shown came before -f, with no time; the followed ones carry the time they were read.
    assert.equal(lines[0]!.time, null);
    assert.ok(lines.slice(1).every((l) => typeof l.time === "string"), f.stdout());
  } finally {
    try {
      process.kill(f.pid, "SIGKILL");
    } catch {
      // Already exited.
    }
  }
});

test("logs: bad input exits 2, a missing profile 3, nothing written", async () => {
  const before = await snapshot(sb.home);
  for (const [args, code, message] of [
    [["logs", "../x"], 2, /1-32 characters/],
    [["logs", "liam", "-n", "0"], 2, /-n "0" must be a positive whole number/],
    [["logs", "liam", "-n", "ten"], 2, /-n "ten"/],
    [["logs", "nosuch"], 3, /profile "nosuch" does not exist/],
  ] as const) {
    const r = await profiles([...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(await snapshot(sb.home), before);
});

// On a systemd host every test file's throwaway user writes to the one system journal, which outlives
// the test files: logs-journal.test runs a "quiet" of its own, so the never-started profile here has a
// name no other test uses.
test("logs: a profile never started has no output yet (exit 1, naming the restart)", async () => {
  const add = await profiles(["add", "hush", "--no-start"]);
  assert.equal(add.code, 0, add.stderr);
  const r = await profiles(["logs", "hush"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no output from hush yet: .*hush\.log does not exist/);
  assert.match(r.stderr, /next: .*profiles restart hush/);
});


test("logs without a log dir: the journal where journald runs, else exit 1 naming init --log-dir", async (t) => {
  const off = await profiles(["init", "--log-dir", ""]);
  assert.equal(off.code, 0, off.stderr);
  try {
    if (sb.journal) {
      t.diagnostic("this host runs journald: logs reads the journal");
      // Restarted under the template that no longer appends to a file, liam writes to the journal.
      const restart = await profiles(["restart", "liam"]);
      assert.equal(restart.code, 0, restart.stderr);
      const listening = new RegExp(`agent-gateway liam listening on http://127\\.0\\.0\\.1:${PORT}`);
      const deadline = Date.now() + 10_000;
      let r = await profiles(["logs", "liam"]);
      // journald stores a line a moment after the gateway writes it.
      while (!listening.test(r.stdout) && Date.now() < deadline) r = await profiles(["logs", "liam"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, listening);
      // Never started: the journal has no line of it.
      const silent = await profiles(["logs", "hush"]);
      assert.equal(silent.code, 1, silent.stdout + silent.stderr);
      assert.match(silent.stderr, /no output from hush yet: the journal has no lines of agent-gateway@hush\.service/);
      assert.match(silent.stderr, /profiles start hush/);
      const j = await profiles(["logs", "hush", "--json"]);
      assert.equal(j.code, 1);
      assert.equal((JSON.parse(j.stdout) as { error: { type: string } }).error.type, "NothingToShowError");
      return;
    }
    t.diagnostic("no journald on this host: logs needs a log dir");
    const r = await profiles(["logs", "liam"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /no log to show for liam: no log dir is configured and this host has no journald/);
    assert.match(r.stderr, new RegExp(`next: run \`profiles init --log-dir ${sb.home}/\\.local/state/agent-profiles/logs\``));
    const j = await profiles(["logs", "liam", "--json"]);
    assert.equal(j.code, 1);
    assert.equal((JSON.parse(j.stdout) as { error: { type: string } }).error.type, "NothingToShowError");
  } finally {
    const on = await profiles(["init", "--log-dir", logDir]);
    assert.equal(on.code, 0, on.stderr);
  }
});

// `logs` and the failure reasons against a real journald: the sandbox's own (namespace mode) or the host's
// (a systemd host). No log dir: units write to the journal, as on an ordinary systemd host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSandbox, spawnCli, type Sandbox } from "../helpers/sandbox.js";
import { cli, waitFor } from "../helpers/cli-run.js";

// Ports of this file only.
const RANGE = "19200-19219";
const REFUSAL = /0\.0\.0\.0 is not a loopback address and API_KEY is not set/;

let sb: Sandbox;

const { profiles, ok } = cli(() => sb);

before(async () => {
  sb = await startSandbox();
  await ok(["init", "--range", RANGE, "--no-sweep"]);
});

after(async () => {
  await sb?.stop();
});

test("the sandbox has a journald, and init without --log-dir leaves output to it", async () => {
  assert.ok(sb.journal, "startSandbox() gives a journald on both kinds of host");
  const init = JSON.parse(await ok(["init", "--json"])) as { logDir: string | null };
  assert.equal(init.logDir, null);
});

test("add that fails shows the gateway's own reason from the journal", async () => {
  const r = await profiles(["add", "broken", "--env", "HOST=0.0.0.0", "--wait", "10"]);
  assert.equal(r.code, 7, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, REFUSAL);
  assert.doesNotMatch(r.stdout + r.stderr, /journalctl --user -u/, "no bare journalctl hint when the reason is shown");
  // --json: the reason in the error's details.
  await ok(["remove", "broken", "--purge"]);
  const j = await profiles(["add", "broken", "--env", "HOST=0.0.0.0", "--wait", "10", "--json"]);
  assert.equal(j.code, 7);
  assert.match(j.stdout, REFUSAL);
  await ok(["remove", "broken", "--purge"]);
});

test("set --restart and rollback that fail show this start's reason, not the lines of earlier runs", async () => {
  await ok(["add", "liam", "--port", "19200"]);
  const set = await profiles(["set", "liam", "HOST=0.0.0.0", "--restart", "--wait", "10"]);
  assert.equal(set.code, 7, set.stdout + set.stderr);
  const setOut = set.stdout + set.stderr;
  assert.match(setOut, REFUSAL);
  assert.doesNotMatch(setOut, /listening on/, "the healthy run before is not in the reason");

  await ok(["rollback", "liam"]);
  // Generation 2 holds the bad HOST: rolling back to it fails with the same reason, of this start only.
  const back = await profiles(["rollback", "liam", "--to", "2", "--wait", "10"]);
  assert.equal(back.code, 7, back.stdout + back.stderr);
  const backOut = back.stdout + back.stderr;
  assert.equal(backOut.match(REFUSAL)?.length, 1, backOut);
  assert.doesNotMatch(backOut, /listening on/);
  await ok(["rollback", "liam", "--to", "1"]);
});

test("logs NAME reads the journal; logs -f follows it and waits for a profile's first line", async () => {
  const shown = await ok(["logs", "liam", "-n", "200"]);
  assert.match(shown, /agent-gateway liam listening on http:\/\/127\.0\.0\.1:19200/);
  assert.match(shown, REFUSAL, "the failed runs are in the journal too");

  await ok(["add", "quiet", "--port", "19201", "--no-start"]);
  const none = await profiles(["logs", "quiet"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no output from quiet yet: the journal has no lines of agent-gateway@quiet\.service/);

  const f = spawnCli(sb, ["logs", "quiet", "-f"]);
  try {
    await waitFor("logs -f to start following", async () => (await sb.exec("pgrep", ["-u", String(sb.uid), "-f", "journalctl --user -u agent-gateway@quiet.service -n 50 -f"])).code === 0);
    await ok(["start", "quiet"]);
    await ok(["restart", "quiet"]);
    await f.until(/listening on[\s\S]*SIGTERM, closing[\s\S]*listening on/);
  } catch (err) {
    process.kill(f.pid, "SIGKILL");
    throw err;
  }
  process.kill(f.pid, "SIGTERM");
  const done = await f.done;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /nothing from quiet in the journal yet/);
  assert.equal(done.stdout.match(/agent-gateway quiet listening on/g)?.length, 2, done.stdout);
  assert.match(done.stdout, /quiet: SIGTERM, closing/);
});

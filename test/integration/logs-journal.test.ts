// `logs` and the failure reasons against a real journald: the sandbox's own (namespace mode) or the host's
// (a systemd host). No log dir: units write to the journal, as on an ordinary systemd host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSandbox, spawnCli, type Sandbox } from "../helpers/sandbox.js";
import { cli, stopAfter, waitFor } from "../helpers/cli-run.js";

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
  const done = await stopAfter(f, async () => {
    // Following from the time it looked (not `-n 50 -f`, which lost the first lines written while it started).
    await waitFor("logs -f to start following", async () => (await sb.exec("pgrep", ["-u", String(sb.uid), "-f", "journalctl --user _SYSTEMD_USER_UNIT=agent-gateway@quiet.service .* --since=@[0-9.]+ -f"])).code === 0);
    await ok(["start", "quiet"]);
    await ok(["restart", "quiet"]);
    await f.until(/listening on[\s\S]*SIGTERM, closing[\s\S]*listening on/);
  });
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /nothing from quiet in the journal yet/);
  assert.equal(done.stdout.match(/agent-gateway quiet listening on/g)?.length, 2, done.stdout);
  assert.match(done.stdout, /quiet: SIGTERM, closing/);
});

interface JsonLine {
  profile: string;
  time: string | null;
  stream: string | null;
  message: string;
}

test("logs of several profiles, and of all: their lines merged in time order, each with its name", async () => {
  const text = await ok(["logs", "liam", "quiet", "-n", "200"]);
  assert.match(text, /^liam {2}\| agent-gateway liam listening on http:\/\/127\.0\.0\.1:19200$/m);
  assert.match(text, /^quiet \| agent-gateway quiet listening on http:\/\/127\.0\.0\.1:19201$/m);

  const lines = (await ok(["logs", "--json", "-n", "500"])).trimEnd().split("\n").map((l) => JSON.parse(l) as JsonLine);
  assert.deepEqual([...new Set(lines.map((l) => l.profile))].sort(), ["liam", "quiet"]);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l), ["profile", "time", "stream", "message"]);
    assert.equal(l.stream, null, "journald does not keep which stream a line came from");
  }
  const times = lines.map((l) => Date.parse(l.time!));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "in time order");
  assert.ok(lines.some((l) => REFUSAL.test(l.message)));

  // --since: only what came after it (the journal's --since counts whole seconds).
  await new Promise((r) => setTimeout(r, 1100));
  const since = new Date();
  await ok(["restart", "quiet"]);
  await waitFor("quiet's restart in the journal", async () => (await ok(["logs", "quiet", "-n", "5"])).includes("listening on"));
  const recent = (await ok(["logs", "--since", since.toISOString(), "--json"])).trimEnd().split("\n").map((l) => JSON.parse(l) as JsonLine);
  assert.ok(recent.length >= 2, JSON.stringify(recent));
  for (const l of recent) {
    assert.equal(l.profile, "quiet", JSON.stringify(l));
    assert.ok(Date.parse(l.time!) >= Math.floor(since.getTime() / 1000) * 1000, JSON.stringify(l));
  }
  const bad = await profiles(["logs", "--since", "yesterday-ish"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since "yesterday-ish" is not a time/);
});

test("logs -f of all profiles follows them all; a terminal gets coloured names unless NO_COLOR", async () => {
  const f = spawnCli(sb, ["logs", "-f", "-n", "1"]);
  const done = await stopAfter(f, async () => {
    await waitFor("logs -f to start following", async () => (await sb.exec("pgrep", ["-u", String(sb.uid), "-f", "journalctl --user _SYSTEMD_USER_UNIT=agent-gateway@liam.service .*_SYSTEMD_USER_UNIT=agent-gateway@quiet.service"])).code === 0);
    await ok(["restart", "liam"]);
    await ok(["restart", "quiet"]);
    await f.until(/^liam {2}\| agent-gateway liam listening on[\s\S]*^quiet \| agent-gateway quiet listening on/m);
  }, "SIGINT");
  assert.equal(done.code, 0, done.stderr);

  // `script` gives the CLI a terminal.
  const cmd = `node ${sb.appDir}/dist/src/cli.cjs logs liam quiet -n 50`;
  const tty = await sb.exec("script", ["-qec", cmd, "/dev/null"]);
  assert.equal(tty.code, 0, tty.stdout + tty.stderr);
  assert.match(tty.stdout, /\x1b\[36mliam \x1b\[0m \| /);
  assert.match(tty.stdout, /\x1b\[33mquiet\x1b\[0m \| /);
  const plain = await sb.exec("script", ["-qec", cmd, "/dev/null"], { env: { NO_COLOR: "1" } });
  assert.equal(plain.code, 0);
  assert.doesNotMatch(plain.stdout, /\x1b\[/);
  assert.match(plain.stdout, /^quiet \| /m);
});

test("logs NAME leaves out a line another unit tagged as the gateway's; its own lines and the manager's stay (text, --json, -f)", async () => {
  // `systemd-cat -t agent-gateway@liam` in a unit of its own: journald stores the line with that tag, but
  // in the forger's cgroup. The forger stays until its line is stored: one gone before journald reads it
  // leaves a line with no cgroup, as the gateway's own lost lines are (entryProfile). (The sandbox's
  // journald has no /dev/log, so `logger` cannot log here.)
  let forged = 0;
  const forge = async (): Promise<string> => {
    const marker = `forged-line-${++forged}-${process.pid}`;
    const unit = `forger-${forged}-${process.pid}.service`;
    const run = await sb.exec("systemd-run", ["--user", "--quiet", `--unit=${unit}`, "--", "systemd-cat", "-t", "agent-gateway@liam", "sh", "-c", `echo ${marker}; exec tail -f /dev/null`]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await waitFor("the forged line in the journal", async () => (await sb.exec("journalctl", ["--user", "SYSLOG_IDENTIFIER=agent-gateway@liam", "-o", "cat", "--no-pager"])).stdout.includes(marker));
    const stop = await sb.exec("systemctl", ["--user", "stop", unit]);
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    return marker;
  };
  await ok(["restart", "liam"]);
  await waitFor("liam's restart in the journal", async () => /listening on/.test(await ok(["logs", "liam", "-n", "3"])));
  const marker = await forge();

  const text = await ok(["logs", "liam", "-n", "200"]);
  assert.doesNotMatch(text, new RegExp(marker), text);
  assert.match(text, /agent-gateway@liam\[\d+\]: agent-gateway liam listening on http:\/\/127\.0\.0\.1:19200$/m, "the gateway's own line, as journalctl shows it");
  assert.match(text, /Started agent-gateway@liam\.service/, "the manager's line about the unit");

  // One object a line and nothing else, as for several profiles.
  const json = (await ok(["logs", "liam", "-n", "200", "--json"])).trimEnd().split("\n").map((l) => JSON.parse(l) as JsonLine);
  assert.ok(!json.some((e) => e.message.includes(marker)), JSON.stringify(json));
  assert.ok(json.every((e) => e.profile === "liam" && e.stream === null && typeof e.time === "string"), JSON.stringify(json));
  assert.ok(json.some((e) => /listening on/.test(e.message)));

  const f = spawnCli(sb, ["logs", "liam", "-f", "-n", "1"]);
  let late = "";
  const done = await stopAfter(f, async () => {
    await waitFor("logs -f to start following", async () => (await sb.exec("pgrep", ["-u", String(sb.uid), "-f", "journalctl --user _SYSTEMD_USER_UNIT=agent-gateway@liam.service .* -f"])).code === 0);
    // In the journal before the restart's lines: shown, it would be shown before them.
    late = await forge();
    await ok(["restart", "liam"]);
    await f.until(/SIGTERM, closing[\s\S]*listening on/);
  });
  assert.equal(done.code, 0, done.stderr);
  assert.doesNotMatch(done.stdout, new RegExp(late), done.stdout);
  assert.match(done.stdout, /Started agent-gateway@liam\.service/);
});

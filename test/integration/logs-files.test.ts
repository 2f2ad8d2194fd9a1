// The log-file world: a sandbox without journald (AP_SANDBOX_JOURNAL=0, a plain container's case), where
// `init` picks a default log dir, log files rotate under a running gateway without losing a line, and
// `remove` keeps them aside as it does the .env.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { spawnCli, startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { cli, stopAfter, waitFor } from "../helpers/cli-run.js";

// Ports of this file only.
const RANGE = "19220-19239";

let sb: Sandbox;
let logDir: string;

const { profiles, ok } = cli(() => sb);

const size = async (file: string): Promise<number> => (await fs.stat(file).catch(() => null))?.size ?? 0;

before(async () => {
  sb = await startSandbox({ journal: false });
  logDir = path.join(sb.home, ".local/state/agent-profiles/logs");
});

after(async () => {
  await sb?.stop();
});

test("init without journald and without --log-dir sends output to the default log dir, and says so", async (t) => {
  if (sb.journal) {
    t.skip("linger mode: the host's journald runs, so init leaves output to it");
    await ok(["init", "--range", RANGE, "--log-dir", logDir]);
    return;
  }
  const text = await ok(["init", "--range", RANGE, "--no-sweep"]);
  assert.match(text, new RegExp(`this host has no journald: each profile's output goes to ${logDir}/NAME\\.log`));
  const j = JSON.parse(await ok(["init", "--json"])) as { logDir: string; logDirDefaulted: boolean; logRotation: { maxSize: string; keep: number } };
  assert.equal(j.logDir, logDir);
  // A rerun keeps it, no longer as a default it picked.
  assert.equal(j.logDirDefaulted, false);
  assert.deepEqual(j.logRotation, { maxSize: "10M", keep: 5 });
  assert.equal(((await fs.stat(logDir)).mode & 0o777), 0o700);

  await ok(["add", "liam", "--port", "19220"]);
  assert.match(await ok(["logs", "liam"]), /agent-gateway liam listening on http:\/\/127\.0\.0\.1:19220/);
  // A failure's reason is there from the first crash on.
  const bad = await profiles(["add", "broken", "--env", "HOST=0.0.0.0", "--wait", "10"]);
  assert.equal(bad.code, 7, bad.stdout + bad.stderr);
  assert.match(bad.stdout + bad.stderr, /0\.0\.0\.0 is not a loopback address and API_KEY is not set/);
  await ok(["remove", "broken", "--purge"]);
});

test("rotation under a running gateway: every line written is in NAME.log or a rotated file, once", async (t) => {
  const gateway = path.join(sb.appDir, "dist/test/fixtures/chatty-gateway.js");
  await ok(["init", "--exec", `${process.execPath} ${gateway}`, "--log-max-size", "8K", "--log-keep", "100"]);
  const conf = await fs.readFile(path.join(sb.home, ".config/agent-profiles/config.ini"), "utf8");
  assert.match(conf, /\[logs\]\nmax_size=8K\nkeep=100\n/);
  await ok(["add", "chat", "--port", "19221"]);
  const file = path.join(logDir, "chat.log");

  let rotations = 0;
  let frozen = 0;
  for (let i = 0; i < 6; i++) {
    await waitFor("the gateway to write more", async () => (await size(file)) > 2048);
    const r = JSON.parse(await ok(["logs", "--rotate", "chat", "--json"])) as { rotated: { rotated: boolean; frozen: boolean; bytes: number }[] };
    assert.equal(r.rotated[0]?.rotated, true, JSON.stringify(r));
    rotations++;
    if (r.rotated[0]!.frozen) frozen++;
  }
  // The sweep rotates what reached max_size (8K), and only that.
  await waitFor("the file to pass 8K", async () => (await size(file)) > 8192);
  const sweep = JSON.parse((await profiles(["sweep", "--json"])).stdout) as { rotatedLogs: { name: string; rotated: boolean }[] };
  assert.deepEqual(sweep.rotatedLogs.map((o) => o.name), ["chat"]);
  rotations++;

  await ok(["stop", "chat"]);
  const files = [file, ...Array.from({ length: rotations }, (_, i) => `${file}.${i + 1}`)];
  const ticks: number[] = [];
  let last = -1;
  for (const f of files.reverse()) {
    for (const line of (await fs.readFile(f, "utf8")).split("\n")) {
      const m = /^(tick|last) (\d+)$/.exec(line);
      if (m?.[1] === "tick") ticks.push(Number(m[2]));
      if (m?.[1] === "last") last = Number(m[2]);
    }
  }
  assert.ok(last > 1000, `the gateway wrote ${last} lines`);
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((n) => !ticks.includes(n));
  assert.deepEqual(missing, [], `lines lost across ${rotations} rotations`);
  assert.equal(ticks.length, last, "no line twice");
  assert.deepEqual(ticks, [...ticks].sort((a, b) => a - b), "in order across the files");
  t.diagnostic(`${last} lines written, ${ticks.length} read across ${rotations} rotations (${frozen} of ${rotations - 1} by --rotate with the gateway frozen)`);
});

test("keep bounds the rotated files; remove keeps the log files aside, --purge deletes them", async () => {
  await ok(["init", "--log-keep", "2"]);
  await ok(["start", "chat"]);
  const file = path.join(logDir, "chat.log");
  for (let i = 0; i < 3; i++) {
    await waitFor("the gateway to write", async () => (await size(file)) > 100);
    await ok(["logs", "--rotate", "chat"]);
  }
  // The 7 of the test above (keep was 100) went with the first rotation under keep 2.
  assert.deepEqual((await fs.readdir(logDir)).filter((f) => f.startsWith("chat.")).sort(), ["chat.log", "chat.log.1", "chat.log.2"]);

  const removed = JSON.parse(await ok(["remove", "chat", "--json"])) as { keptEnv: string; keptLogs: string[] };
  const stamp = path.basename(removed.keptEnv).slice("chat.".length, -".env".length);
  assert.ok(removed.keptLogs.includes(path.join(sb.home, `.local/state/agent-profiles/removed/chat.${stamp}.log`)), removed.keptLogs.join("\n"));
  assert.ok(removed.keptLogs.includes(path.join(sb.home, `.local/state/agent-profiles/removed/chat.${stamp}.log.1`)));
  assert.deepEqual((await fs.readdir(logDir)).filter((f) => f.startsWith("chat.")), []);

  await ok(["add", "chat", "--port", "19221"]);
  await waitFor("the gateway to write", async () => (await size(file)) > 0);
  const purged = JSON.parse(await ok(["remove", "chat", "--purge", "--json"])) as { keptLogs: string[] };
  assert.deepEqual(purged.keptLogs, []);
  assert.deepEqual((await fs.readdir(logDir)).filter((f) => f.startsWith("chat.")), []);
});

test("logs of several profiles from their log files: each profile's last lines with its name; -f follows all", async () => {
  await ok(["add", "a", "--port", "19222"]);
  await ok(["add", "b", "--port", "19223"]);
  await waitFor("both to write", async () => (await size(path.join(logDir, "a.log"))) > 100 && (await size(path.join(logDir, "b.log"))) > 100);
  const text = await ok(["logs", "a", "b", "-n", "3"]);
  const shown = text.trimEnd().split("\n");
  assert.equal(shown.filter((l) => /^a \| tick \d+$/.test(l)).length, 3, text);
  assert.equal(shown.filter((l) => /^b \| tick \d+$/.test(l)).length, 3, text);

  const json = (await ok(["logs", "a", "b", "-n", "2", "--json"])).trimEnd().split("\n").map((l) => JSON.parse(l) as { profile: string; time: string | null; stream: string | null; message: string });
  assert.deepEqual(json.map((l) => l.profile).sort(), ["a", "a", "b", "b"]);
  // A log file holds no time per line.
  for (const l of json) assert.deepEqual([l.time, l.stream, /^tick \d+$/.test(l.message)], [null, null, true]);

  const since = await profiles(["logs", "a", "b", "--since", "10m"]);
  assert.equal(since.code, 2);
  assert.match(since.stderr, /--since needs the journal: log files hold no time per line/);

  const f = spawnCli(sb, ["logs", "a", "b", "-f", "-n", "1", "--json"]);
  const done = await stopAfter(f, () => f.until(/"profile":"a","time":"20[^"]+","stream":null,"message":"tick \d+"[\s\S]*"profile":"b","time":"20|"profile":"b","time":"20[^"]+","stream":null,"message":"tick \d+"[\s\S]*"profile":"a","time":"20/));
  assert.equal(done.code, 0, done.stderr);
  await ok(["remove", "a", "--purge"]);
  await ok(["remove", "b", "--purge"]);
});

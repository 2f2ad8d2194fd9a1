import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type ExecResult, type Sandbox, startSandbox, userPaths } from "../helpers/sandbox.js";

// Ports of this file only.
const RANGE = "19650-19689";

let sb: Sandbox;
let hook: http.Server;
let hookBase: string;
const hookCalls: { url: string; auth: string; body: string }[] = [];
const outputs: { what: string; text: string }[] = [];
const figures = { secretsPlanted: 0, commandsRun: 0, outputsScanned: 0, filesScanned: 0, webhookBodies: 0, journalEntries: 0, allowedFiles: 0, pathsChecked: 0 };

// Distinctive values: nothing else would ever print these bytes.
const secret = (tag: string): string => `${tag}-${randomBytes(12).toString("hex")}`;
const DSN_KEY = secret("dsnkey");
const SECRETS = {
  // Values of secret keys, each echoed by the gateway into its log (ECHO_VARS).
  API_KEY: secret("sk-apikey"),
  GITHUB_TOKEN: secret("ghp-token"),
  SLACK_BOT_TOKEN: secret("xoxb-token"),
  API_KEY_NEXT: secret("sk-rotated"),
  // Names the old rule (KEY|TOKEN|SECRET|PASSWORD) missed.
  DB_PASSWD: secret("passwd"),
  SENTRY_DSN: `https://${DSN_KEY}@o1.ingest.example.com/42`,
  DSN_KEY,
  // A name config.ini adds (`init --secret-keys "ACME_*"`).
  ACME_LICENSE: secret("acme-license"),
  // Malformed arguments: alone, as a bad K=V's key, as a stray word.
  PASTED: secret("pasted-alone"),
  PASTED_KEY: `ghp_ab-cd${randomBytes(10).toString("hex")}`,
  STRAY: secret("stray-word"),
  // The webhook's user:password@ and ?token=.
  HOOK_PASSWORD: secret("hook-password"),
  HOOK_TOKEN: secret("hook-token"),
};
const ALL = Object.entries(SECRETS);
const ECHO = "API_KEY,GITHUB_TOKEN,SLACK_BOT_TOKEN,DB_PASSWD,SENTRY_DSN,ACME_LICENSE";
// config.ini keeps the webhook (0600): the one file of ours that may hold these two.
const WEBHOOK_PARTS = new Set(["HOOK_PASSWORD", "HOOK_TOKEN"]);

async function run(args: string[], want?: number): Promise<ExecResult> {
  const r = await sb.profiles(args, { timeoutMs: 90_000 });
  figures.commandsRun++;
  outputs.push({ what: `profiles ${args[0]} #${figures.commandsRun} (stdout)`, text: r.stdout }, { what: `profiles ${args[0]} #${figures.commandsRun} (stderr)`, text: r.stderr });
  if (want !== undefined) assert.equal(r.code, want, `profiles ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs `args` twice: for people, then with --json. */
async function both(args: string[], want?: number): Promise<[ExecResult, ExecResult]> {
  return [await run(args, want), await run([...args, "--json"], want)];
}

before(async () => {
  sb = await startSandbox();
  hook = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (s: string) => (body += s));
    req.on("end", () => {
      hookCalls.push({ url: req.url ?? "", auth: req.headers.authorization ?? "", body });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  hookBase = `127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/agent`;
});
after(async () => {
  console.log(`# reliability figures (secrets): ${JSON.stringify(figures)}`);
  hook?.close();
  await sb?.stop();
});

// Files that may hold the values: the .env itself, its generations (copies of it, 0600) and the copies
// `remove` keeps (the .env, its generations, and the gateway's log files). The gateways' own logs
// (LOG_DIR/NAME.log and its rotated NAME.log.N) are theirs, not ours: they hold what the gateway echoed,
// which is what `logs` and failure tails must mask.
function allowed(rel: string): boolean {
  return (
    /(^|\/)profiles\/[^/]+\/\.env$/.test(rel) ||
    /(^|\/)generations\/[^/]+\/\d+\.env$/.test(rel) ||
    /(^|\/)removed\/[^/]+\.env$/.test(rel) ||
    /(^|\/)removed\/[^/]+\.generations\/\d+\.env$/.test(rel) ||
    /(^|\/)removed\/[^/]+\.log(\.\d+)?$/.test(rel)
  );
}

function scanText(what: string, text: string, found: string[], mayHold: (name: string) => boolean = () => false): void {
  figures.pathsChecked++;
  for (const [name, s] of ALL) if (!mayHold(name) && text.includes(s)) found.push(`${what} holds ${name}`);
}

async function scanTree(root: string, found: string[], allowedSeen: string[]): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) {
        const rel = path.relative(sb.home, abs);
        if (allowed(rel)) {
          allowedSeen.push(rel);
          continue;
        }
        figures.filesScanned++;
        scanText(rel, await fs.readFile(abs, "latin1"), found, (name) => rel.endsWith("agent-profiles/config.ini") && WEBHOOK_PARTS.has(name));
      }
    }
  };
  await walk(root);
}

test("secret values appear nowhere but the .env, its generations and env --show-secrets", async (t) => {
  const p = userPaths(sb);
  const logDir = path.join(sb.home, "logs");
  const metricsDir = path.join(sb.home, "metrics");
  await fs.mkdir(metricsDir);
  await fs.chown(metricsDir, sb.uid, sb.gid);
  const textfile = path.join(metricsDir, "agent_profiles.prom");
  const gateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
  const hookUrl = `http://hookuser:${SECRETS.HOOK_PASSWORD}@${hookBase}?token=${SECRETS.HOOK_TOKEN}`;
  figures.secretsPlanted = ALL.length;

  await both(["init", "--range", RANGE, "--log-dir", logDir, "--no-sweep", "--exec", `${process.execPath} ${gateway}`, "--secret-keys", "ACME_*"], 0);
  const s1 = ["API_KEY", "GITHUB_TOKEN", "DB_PASSWD", "SENTRY_DSN", "ACME_LICENSE"].flatMap((k) => ["--env", `${k}=${SECRETS[k as keyof typeof SECRETS]}`]);
  await run(["add", "s1", ...s1, "--env", `ECHO_VARS=${ECHO}`], 0);
  await run(["add", "s2", "--env", `SLACK_BOT_TOKEN=${SECRETS.SLACK_BOT_TOKEN}`, "--env", `ECHO_VARS=${ECHO}`, "--json"], 0);
  await run(["add", "s3", "--env", `API_KEY=${SECRETS.API_KEY}`, "--no-start"], 0);
  await run(["set", "s2", `GITHUB_TOKEN=${SECRETS.GITHUB_TOKEN}`, "LOG_LEVEL=debug"], 0);
  // A rotated key: its old value stays in a generation and in the log of the run that echoed it.
  await run(["set", "s1", `API_KEY=${SECRETS.API_KEY_NEXT}`, "--restart", "--json"], 0);
  await run(["set", "s1", `API_KEY=${SECRETS.API_KEY}`, "--restart"], 0);

  // Bad inputs that carry a secret: the error must not echo it.
  await run(["set", "s1", SECRETS.PASTED], 2);
  await run(["set", "s1", `1BAD_TOKEN=${SECRETS.PASTED}`, "--json"], 2);
  await run(["add", "s4", "--env", `bad-key=${SECRETS.PASTED}`], 2);
  await both(["set", "s1", `${SECRETS.PASTED_KEY}=ef`], 2);
  await both(["unset", "s1", SECRETS.PASTED_KEY], 2);
  await both(["list", SECRETS.STRAY], 2);
  await both(["sweep", "--webhook", `not a url ${SECRETS.HOOK_TOKEN}`], 2);

  for (const args of [["list"], ["status"], ["health"], ["env", "s1"], ["env", "s2"], ["history", "s1"], ["history", "s2"], ["diff", "s1"], ["diff", "s1", "1", "2"], ["diff", "s1", "2", "3"], ["diff", "s2"], ["logs", "s1"], ["logs", "s2", "-n", "200"], ["ps", "s1"], ["doctor"]]) {
    await both(args);
  }
  // The log does hold the echoed values, the rotated one too: `logs` masked them, it did not miss them.
  const log1 = await fs.readFile(path.join(logDir, "s1.log"), "utf8");
  for (const k of ["API_KEY", "API_KEY_NEXT", "DB_PASSWD", "SENTRY_DSN", "ACME_LICENSE"] as const) assert.ok(log1.includes(SECRETS[k]), `s1.log lacks ${k}: the gateway did not echo it`);
  const [logsText] = await both(["logs", "s1", "-n", "500"]);
  assert.match(logsText.stdout, /bad-gateway s1: API_KEY=\*{8}$/m);
  assert.match(logsText.stdout, /bad-gateway s1: SENTRY_DSN=\*{8}$/m);

  await both(["restart", "s1"], 0);
  await both(["roll", "--min-healthy-time", "0"], 0);
  await run(["roll", "--dry-run"], 0);
  await run(["rollback", "s1", "--to", "2", "--json"], 0);
  await run(["rollback", "s1"], 0);
  await run(["unset", "s2", "LOG_LEVEL"], 0);
  await run(["unset", "s2", "GITHUB_TOKEN", "--json"], 0);

  // A start that fails: its log tail holds the echoed key.
  await run(["add", "s5", "--env", `API_KEY=${SECRETS.API_KEY}`, "--env", `ECHO_VARS=${ECHO}`, "--env", "FAIL_RUN=1", "--no-start"], 0);
  const [failedText, failedJson] = await both(["start", "s5"], 7);
  assert.match(failedText.stdout, /bad-gateway s5: API_KEY=\*{8}/, "the failure shows its tail, masked");
  assert.match(failedJson.stdout, /bad-gateway s5: API_KEY=\*{8}/);
  await both(["set", "s5", "PORT=19689", "--restart"], 7);

  // A roll that fails: roll.json records the tail.
  for (const json of [false, true]) {
    await run(["set", "s1", "FAIL_RUN=1"], 0);
    await run(["roll", "s1", "--min-healthy-time", "0", ...(json ? ["--json"] : [])], 13);
  }
  const record = await fs.readFile(path.join(p.stateDir, "roll.json"), "utf8");
  assert.match(record, /bad-gateway s1: API_KEY=\*{8}/, "roll.json holds the failure's tail, masked");

  // An unhealthy profile, so the sweep reports, writes its textfile and calls the webhook: given on the
  // command line, then from config.ini.
  await run(["stop", "s2"], 0);
  await both(["sweep", "--textfile", textfile, "--webhook", hookUrl], 7);
  await both(["init", "--sweep-webhook", hookUrl, "--sweep-textfile", textfile], 0);
  await both(["sweep"], 7);
  await run(["sweep", "--restart-unhealthy", "--json"]);
  await run(["stop", "s2", "--json"], 0);
  await both(["sweep", "--print-cron", "--webhook", hookUrl], 0);
  await both(["doctor"]);

  let journal = "";
  if (sb.journal) {
    // The timer's sweep writes to the journal: run it once, then read everything of the user's but the gateways' own lines.
    await both(["init", "--sweep"], 0);
    const started = await sb.exec("systemctl", ["--user", "start", "agent-profiles-sweep.service"], { timeoutMs: 120_000 });
    assert.equal(started.code, 0, started.stderr);
    const j = await sb.exec("journalctl", ["--user", "-o", "json", "--no-pager"], { timeoutMs: 60_000 });
    for (const line of j.stdout.split("\n").filter(Boolean)) {
      const e = JSON.parse(line) as { _SYSTEMD_USER_UNIT?: string; MESSAGE?: unknown };
      if (e._SYSTEMD_USER_UNIT?.startsWith("agent-gateway@")) continue;
      figures.journalEntries++;
      journal += `${JSON.stringify(e.MESSAGE)}\n`;
    }
    t.diagnostic(`journald runs here: ${figures.journalEntries} journal entries of ours scanned`);
  } else {
    t.diagnostic("no journald on this host: no journal to scan");
  }

  await run(["start", "s2"], 0);
  await run(["stop", "s3"], 0);
  await run(["remove", "s3"], 0);
  await run(["remove", "s2", "--json"], 0);

  // Positive controls: --show-secrets prints the values, so the scan below would see them if they leaked.
  const shown = await run(["env", "s1", "--show-secrets"], 0);
  outputs.splice(-2);
  assert.ok(shown.stdout.includes(SECRETS.API_KEY), "env --show-secrets must print API_KEY");
  assert.ok(shown.stdout.includes(SECRETS.ACME_LICENSE), "env --show-secrets must print ACME_LICENSE");
  const masked = await run(["env", "s1"], 0);
  for (const k of ["API_KEY", "DB_PASSWD", "SENTRY_DSN", "ACME_LICENSE"]) assert.match(masked.stdout, new RegExp(`^${k}=\\*{8}$`, "m"));

  // The webhook got its credentials (Basic auth, the query), and only there.
  assert.ok(hookCalls.length >= 2, `the webhook was called ${hookCalls.length} time(s)`);
  const basic = `Basic ${Buffer.from(`hookuser:${SECRETS.HOOK_PASSWORD}`).toString("base64")}`;
  for (const c of hookCalls) {
    assert.equal(c.auth, basic);
    assert.equal(c.url, `/hooks/agent?token=${SECRETS.HOOK_TOKEN}`);
  }
  figures.webhookBodies = hookCalls.length;

  const found: string[] = [];
  for (const o of outputs) {
    figures.outputsScanned++;
    scanText(o.what, o.text, found);
  }
  for (const [i, c] of hookCalls.entries()) scanText(`webhook body ${i}`, c.body, found);
  if (journal) scanText("the journal", journal, found);
  const allowedSeen: string[] = [];
  await scanTree(p.configRoot, found, allowedSeen);
  await scanTree(path.dirname(p.stateDir), found, allowedSeen);
  await scanTree(metricsDir, found, allowedSeen);
  // Files of ours in the log dir (none expected): everything but the gateways' own NAME.log.
  for (const e of await fs.readdir(logDir).catch(() => [] as string[])) {
    if (/^[a-z0-9][a-z0-9_-]*\.log(\.\d+)?$/.test(e)) continue;
    figures.filesScanned++;
    scanText(`logs/${e}`, await fs.readFile(path.join(logDir, e), "latin1"), found);
  }
  figures.allowedFiles = allowedSeen.length;
  t.diagnostic(
    `${figures.secretsPlanted} secrets planted (${ALL.map(([k]) => k).join(", ")}); searched in ${figures.pathsChecked} places: ` +
      `${figures.outputsScanned} outputs of ${figures.commandsRun} commands, ${figures.filesScanned} files, ${figures.webhookBodies} webhook bodies` +
      `${journal ? ", the journal" : ""}; ${figures.allowedFiles} .env files and generations allowed to hold them`,
  );
  assert.deepEqual(found, [], "secret values leaked");

  // The control the other way: the .env, its generations and config.ini do hold them, so the scan read the right places.
  assert.ok((await fs.readFile(path.join(p.profilesDir, "s1", ".env"), "utf8")).includes(SECRETS.API_KEY));
  assert.ok((await fs.readFile(p.configFile, "utf8")).includes(SECRETS.HOOK_PASSWORD), "config.ini keeps the webhook");
  assert.ok(allowedSeen.some((f) => f.includes("generations/s1/")));
  assert.ok(allowedSeen.some((f) => f.includes("removed/s3.")), `removed copy: ${allowedSeen.join(", ")}`);
  assert.ok((await fs.readFile(path.join(p.stateDir, "sweeps.jsonl"), "utf8")).length > 0, "sweeps.jsonl was written");
  assert.ok((await fs.readFile(textfile, "utf8")).includes("agent_profiles_healthy"), "textfile was written");
});

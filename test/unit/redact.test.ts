import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { DEFAULT_CONFIG, loadConfig, saveConfig } from "../../src/config.js";
import { parseEnvArgs } from "../../src/core/env-args.js";
import { lineStream } from "../../src/core/logs/lines.js";
import { RollRecorder } from "../../src/core/roll/recorder.js";
import { newRecord, recordFile } from "../../src/core/roll/record.js";
import { appendReport, reportFile } from "../../src/core/sweep/report-file.js";
import { postWebhook, splitCredentials } from "../../src/core/sweep/webhook.js";
import { ExitCode } from "../../src/errors.js";
import { resolvePaths } from "../../src/paths.js";
import { hideArguments, peopleText, redactJson, redactText, stripUrls } from "../../src/redact.js";
import { isSecretKey, MASK, MIN_SECRET_LENGTH, noteEntries, noteUrlSecrets, parseSecretNames, setSecretNames } from "../../src/secrets.js";
import { parseAssignment, parseEnv } from "../../src/store/envfile.js";
import { fails } from "../helpers/errors.js";

async function tmp(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "ap-redact-"));
}

test("secret keys: the built-in rule is broad, config.ini adds whole names with * wildcards", () => {
  for (const k of ["API_KEY", "GITHUB_TOKEN", "client_secret", "DB_PASSWORD", "DB_PASS", "SMTP_PASSWD", "MYSQL_PWD", "OAUTH_CLIENT", "AWS_CREDENTIALS", "PRIVATE_PEM", "SENTRY_DSN", "COOKIE_JAR", "SESSION_ID", "REQUEST_SIGNATURE", "PW_SALT", "SLACK_WEBHOOK_URL", "AZURE_CONNECTION_STRING"]) {
    assert.ok(isSecretKey(k), k);
  }
  for (const k of ["PORT", "HOST", "LOG_LEVEL", "GREETING", "ACME_LICENSE"]) assert.ok(!isSecretKey(k), k);
  try {
    setSecretNames(["ACME_*", "LICENSE"]);
    for (const k of ["ACME_LICENSE", "acme_x", "ACME_", "LICENSE", "license"]) assert.ok(isSecretKey(k), k);
    for (const k of ["MY_ACME_X", "LICENSES", "GREETING"]) assert.ok(!isSecretKey(k), k);
  } finally {
    setSecretNames([]);
  }
  assert.deepEqual(parseSecretNames(" FOO, BAR_*  BAZ,,"), ["FOO", "BAR_*", "BAZ"]);
  assert.deepEqual(parseSecretNames(""), []);
  assert.ok("problem" in (parseSecretNames("FOO, B-AR") as object));
});

test("config.ini: [secrets] keys round-trips, a bad name is exit 12 naming the field, and reading it sets the rule", async () => {
  const home = await tmp();
  try {
    const paths = resolvePaths({ HOME: home });
    await saveConfig(paths, { ...DEFAULT_CONFIG, secretKeys: ["ZED_*", "QUUX"] });
    assert.match(await fs.readFile(paths.configFile, "utf8"), /\[secrets\]\nkeys=ZED_\*, QUUX\n/);
    assert.ok(!isSecretKey("ZED_THING"));
    assert.deepEqual((await loadConfig(paths)).secretKeys, ["ZED_*", "QUUX"]);
    assert.ok(isSecretKey("ZED_THING") && isSecretKey("QUUX"));
    await fs.writeFile(paths.configFile, "[secrets]\nkeys = A-B\n");
    await assert.rejects(loadConfig(paths), fails(ExitCode.badFile, /secrets\.keys: "A-B" must be names of letters/));
    await fs.writeFile(paths.configFile, "[ports]\nrange = 8600-8699\n");
    assert.deepEqual((await loadConfig(paths)).secretKeys, []);
    assert.ok(!isSecretKey("ZED_THING"));
  } finally {
    setSecretNames([]);
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("redactText: a secret's value is masked in every form it takes; short values and other keys' values are not", () => {
  const token = "tok-1234567890abcdef";
  const quoted = 'pa"ss$word\\x';
  const withEsc = "esc\u001b[2Jvalue";
  parseEnv(`API_KEY="${token}"\nDB_PASSWORD="pa\\"ss\\$word\\x"\nSESSION_X="${withEsc}"\nAUTH_MODE=strict\nGREETING=hello-world-long\n`);
  assert.equal(redactText(`got ${token} twice: ${token}.`), `got ${MASK} twice: ${MASK}.`);
  assert.equal(redactText(JSON.stringify({ v: quoted })), `{"v":"${MASK}"}`);
  // As `env` and `diff` quote it (quoteValue).
  assert.equal(redactText(`DB_PASSWORD="pa\\"ss\\$word\\\\x"`), `DB_PASSWORD="${MASK}"`);
  assert.equal(redactText(peopleText(`v=${withEsc}`)), `v=${MASK}`, "escaped for a terminal first");
  assert.equal(peopleText(`v=${withEsc}`), `v=${MASK}`);
  assert.equal(redactText(`?t=${encodeURIComponent(quoted)}`), `?t=${MASK}`);
  // Shorter than MIN_SECRET_LENGTH: left alone, or every "strict" in the output would go.
  assert.ok("strict".length < MIN_SECRET_LENGTH);
  assert.equal(redactText("mode strict"), "mode strict");
  assert.equal(redactText("hello-world-long"), "hello-world-long", "not a secret key");
  // A value noted under a non-secret key that also is a secret key's value elsewhere is a secret.
  noteEntries(new Map([["OTHER", "hello-world-long"], ["MY_TOKEN", "hello-world-long"]]));
  assert.equal(redactText("hello-world-long"), MASK);
});

test("stripUrls: userinfo, query and fragment go; scheme, host and path stay", () => {
  assert.equal(stripUrls("POST to https://user:pw@hooks.example.com:8443/x/y?token=abc#frag failed"), "POST to https://***@hooks.example.com:8443/x/y?***#*** failed");
  assert.equal(stripUrls('"postgres://app:p@ss@db.internal/app?sslmode=require"'), '"postgres://***@db.internal/app?***"');
  assert.equal(stripUrls("http://127.0.0.1:8600/health and unix:path=/run/user/1000/bus"), "http://127.0.0.1:8600/health and unix:path=/run/user/1000/bus");
  assert.equal(stripUrls("GET /health?x=1 (no scheme)"), "GET /health?x=1 (no scheme)");
});

test("redactJson: strings redacted one by one, so that numbers and structure survive; untouched output is the plain JSON", () => {
  parseEnv("PIN_TOKEN=12345678901\n");
  const data = { pid: 12345678901, line: "token 12345678901 echoed", url: "https://u:p@h/x", nested: [{ k: "12345678901" }], n: null };
  const out = JSON.parse(redactJson(data, 2)) as typeof data;
  assert.deepEqual(out, { pid: 12345678901, line: `token ${MASK} echoed`, url: "https://***@h/x", nested: [{ k: MASK }], n: null });
  assert.equal(redactJson({ a: "nothing here" }), JSON.stringify({ a: "nothing here" }));
  assert.equal(redactJson({ MESSAGE: "x 12345678901", __CURSOR: "s=1" }), JSON.stringify({ MESSAGE: `x ${MASK}`, __CURSOR: "s=1" }));
});

test("malformed arguments are never echoed: K=V pairs, and words the argument parser quotes", () => {
  const pasted = "ghp_ab-cd=efgh1234567890";
  const p = parseAssignment(pasted);
  assert.ok("problem" in p);
  assert.ok(!p.problem.includes("ghp_ab-cd"), p.problem);
  assert.throws(() => parseEnvArgs([pasted], "--env"), fails(ExitCode.usage, /^(?!.*ghp).*--env: the key/));
  assert.equal(
    hideArguments("Unknown arguments: ghp_0123456789abcdef, foo, definitely-not-a-flag", ["list", "ghp_0123456789abcdef", "foo", "--definitely-not-a-flag", "--env=sk-live-0123456789"]),
    "Unknown arguments: (argument 2, not shown), foo, definitely-not-a-flag",
  );
  assert.equal(hideArguments("Invalid: sk-live-0123456789", ["--env=sk-live-0123456789"]), "Invalid: (argument 1, not shown)");
  // A good pair is noted: an error that quotes its value later is redacted.
  parseAssignment("NEW_SECRET=brand-new-secret-value");
  assert.equal(redactText("x brand-new-secret-value"), `x ${MASK}`);
});

test("webhook: userinfo sent as Basic auth, never in the URL; the body and errors are redacted", async () => {
  assert.deepEqual(splitCredentials("https://hooks.example.com/x?t=1"), { url: "https://hooks.example.com/x?t=1", headers: {} });
  const split = splitCredentials("https://al%40ice:p%3Ass-word-123@hooks.example.com/x");
  assert.equal(split.url, "https://hooks.example.com/x");
  assert.equal(Buffer.from(split.headers.authorization!.replace("Basic ", ""), "base64").toString(), "al@ice:p:ss-word-123");

  const got: { url: string; auth: string; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ url: req.url ?? "", auth: req.headers.authorization ?? "", body });
      res.statusCode = 204;
      res.end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  try {
    const password = "hook-password-0123456789";
    const url = `http://hookuser:${password}@127.0.0.1:${port}/hooks?token=query-token-0123456789`;
    noteUrlSecrets(url);
    const r = await postWebhook(url, { text: `saw ${password} and ${url}` });
    assert.deepEqual(r, { url: `http://127.0.0.1:${port}/…`, sent: true, status: 204, error: null });
    assert.equal(got[0]!.url, "/hooks?token=query-token-0123456789");
    assert.equal(got[0]!.auth, `Basic ${Buffer.from(`hookuser:${password}`).toString("base64")}`);
    assert.equal(got[0]!.body, JSON.stringify({ text: `saw ${MASK} and http://***@127.0.0.1:${port}/hooks?***` }));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test("sweeps.jsonl and roll.json: what is written is redacted; roll.json's names and numbers are not", async () => {
  const home = await tmp();
  try {
    const paths = resolvePaths({ HOME: home });
    parseEnv("SESSION_NAME=production-box\nAPI_KEY=roll-secret-0123456789\n");
    await appendReport(paths, { line: "roll-secret-0123456789", n: 1 });
    assert.equal(await fs.readFile(reportFile(paths), "utf8"), `{"line":"${MASK}","n":1}\n`);
    // A profile named like a secret value: masked in its text fields, never in the record's structure.
    const rec = new RollRecorder(paths, newRecord(["production-box"], { maxParallel: 1, canary: 0, minHealthyMs: 0, healthyDeadlineMs: 1000, progressDeadlineMs: 0, autoRevert: true }, [{ kind: "batch", names: ["production-box"] }]));
    await rec.update("production-box", { state: "failed", reason: "crashed near production-box", details: ["echo roll-secret-0123456789"], revertProblem: "https://u:p@h/x?y" });
    const onDisk = JSON.parse(await fs.readFile(recordFile(paths), "utf8")) as { plan: { names: string[] }[]; profiles: Record<string, { reason: string; details: string[]; revertProblem: string }> };
    assert.deepEqual(onDisk.plan[0]!.names, ["production-box"]);
    const e = onDisk.profiles["production-box"]!;
    assert.deepEqual([e.reason, e.details, e.revertProblem], [`crashed near ${MASK}`, [`echo ${MASK}`], "https://***@h/x?***"]);
    // The record in memory keeps the exact text: the roll's own report goes through the CLI's redaction.
    assert.equal(rec.entry("production-box").details[0], "echo roll-secret-0123456789");
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("lineStream: whole lines only, so a token split across reads is still masked", async () => {
  parseEnv("X_TOKEN=split-token-0123456789\n");
  let out = "";
  const s = lineStream((l) => redactText(l) + "\n", async (t) => void (out += t));
  await s.write("a split-tok");
  await s.write("en-0123456789 b\nc");
  assert.equal(out, `a ${MASK} b\n`);
  await s.end();
  assert.equal(out, `a ${MASK} b\nc\n`);
});

test("redactText with thousands of secrets: each masked, leftmost and longest first, and one noted later too", () => {
  const values = Array.from({ length: 5000 }, (_, i) => `zq-many-${i}-s3cret`);
  noteEntries(new Map(values.map((v, i) => [`K${i}_TOKEN`, v])));
  const text = values.map((v, i) => `line ${i}: ${v}.`).join("\n");
  assert.equal(redactText(text), values.map((_, i) => `line ${i}: ${MASK}.`).join("\n"));
  // "zq-many-1-s3cret" is a prefix of none here, but "zq-many-10-s3cret" starts as "zq-many-1": the longer wins.
  assert.equal(redactText("[zq-many-10-s3cret]"), `[${MASK}]`);
  assert.equal(redactText("zq-many-later-x"), "zq-many-later-x");
  noteEntries(new Map([["LATER_TOKEN", "zq-many-later-x"]]));
  assert.equal(redactText("a zq-many-later-x b"), `a ${MASK} b`);
  assert.equal(redactJson({ v: "zq-many-4999-s3cret", n: 1 }), JSON.stringify({ v: MASK, n: 1 }));
});

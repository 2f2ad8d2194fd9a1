import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { startSandbox, type ExecResult, type Sandbox } from "../helpers/sandbox.js";
import { userPaths } from "./util.js";

// Ports of this file only.
const RANGE = "19650-19689";

let sb: Sandbox;
let hook: http.Server;
let hookUrl: string;
const hookBodies: string[] = [];
const outputs: { what: string; text: string }[] = [];
const figures = { commandsRun: 0, outputsScanned: 0, filesScanned: 0, webhookBodies: 0, allowedFiles: 0 };

// Distinctive values: nothing else would ever print these bytes.
const secret = (tag: string): string => `${tag}-${randomBytes(12).toString("hex")}`;
const SECRETS = {
  API_KEY: secret("sk-apikey"),
  GITHUB_TOKEN: secret("ghp-token"),
  SLACK_BOT_TOKEN: secret("xoxb-token"),
  API_KEY_NEXT: secret("sk-rotated"),
  PASTED: secret("pasted-alone"),
};
const ALL = Object.values(SECRETS);

async function run(args: string[], want?: number): Promise<ExecResult> {
  const r = await sb.profiles(args, { timeoutMs: 90_000 });
  figures.commandsRun++;
  outputs.push({ what: `profiles ${args.join(" ")} (stdout)`, text: r.stdout }, { what: `profiles ${args.join(" ")} (stderr)`, text: r.stderr });
  if (want !== undefined) assert.equal(r.code, want, `profiles ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  return r;
}

/** Runs `args` twice: for people, then with --json. */
async function both(args: string[], want?: number): Promise<void> {
  await run(args, want);
  await run([...args, "--json"], want);
}

before(async () => {
  sb = await startSandbox();
  hook = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (s: string) => (body += s));
    req.on("end", () => {
      hookBodies.push(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${body}`);
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/agent`;
});
after(async () => {
  console.log(`# reliability figures (secrets): ${JSON.stringify(figures)}`);
  hook?.close();
  await sb?.stop();
});

// Files that may hold the values: the .env itself, its generations (copies of it, 0600) and the copies
// `remove` keeps (the .env and its generations). The gateway's own log (LOG_DIR/NAME.log) is the gateway's, not ours, and is not scanned.
function allowed(rel: string): boolean {
  return (
    /(^|\/)profiles\/[^/]+\/\.env$/.test(rel) ||
    /(^|\/)generations\/[^/]+\/\d+\.env$/.test(rel) ||
    /(^|\/)removed\/[^/]+\.env$/.test(rel) ||
    /(^|\/)removed\/[^/]+\.generations\/\d+\.env$/.test(rel)
  );
}

async function scanTree(root: string, found: string[], allowedSeen: string[]): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) {
        const rel = path.relative(sb.home, abs);
        const text = await fs.readFile(abs, "latin1");
        if (allowed(rel)) {
          allowedSeen.push(rel);
          continue;
        }
        figures.filesScanned++;
        for (const s of ALL) if (text.includes(s)) found.push(`${rel} holds ${s.split("-")[0]}…`);
      }
    }
  };
  await walk(root);
}

test("secret values appear nowhere but the .env, its generations and env --show-secrets", async () => {
  const p = userPaths(sb);
  const logDir = path.join(sb.home, "logs");
  const metricsDir = path.join(sb.home, "metrics");
  await fs.mkdir(metricsDir);
  await fs.chown(metricsDir, sb.uid, sb.gid);
  const textfile = path.join(metricsDir, "agent_profiles.prom");

  await both(["init", "--range", RANGE, "--log-dir", logDir, "--no-sweep"], 0);
  await run(["add", "s1", "--env", `API_KEY=${SECRETS.API_KEY}`, "--env", `GITHUB_TOKEN=${SECRETS.GITHUB_TOKEN}`], 0);
  await run(["add", "s2", "--env", `SLACK_BOT_TOKEN=${SECRETS.SLACK_BOT_TOKEN}`, "--json"], 0);
  await run(["add", "s3", "--env", `API_KEY=${SECRETS.API_KEY}`, "--no-start"], 0);
  await run(["set", "s2", `GITHUB_TOKEN=${SECRETS.GITHUB_TOKEN}`, "LOG_LEVEL=debug"], 0);
  await run(["set", "s1", `API_KEY=${SECRETS.API_KEY_NEXT}`, "--restart", "--json"], 0);
  await run(["set", "s1", `API_KEY=${SECRETS.API_KEY}`, "--restart"], 0);
  // Bad inputs that carry a secret: the error must not echo it.
  await run(["set", "s1", SECRETS.PASTED], 2);
  await run(["set", "s1", `1BAD_TOKEN=${SECRETS.PASTED}`, "--json"], 2);
  await run(["add", "s4", "--env", `bad-key=${SECRETS.PASTED}`], 2);

  for (const args of [["list"], ["status"], ["health"], ["env", "s1"], ["env", "s2"], ["history", "s1"], ["history", "s2"], ["diff", "s1"], ["diff", "s1", "1", "2"], ["diff", "s1", "2", "3"], ["diff", "s2"], ["logs", "s1"], ["doctor"]]) {
    await both(args);
  }
  await both(["restart", "s1"], 0);
  await both(["roll", "--min-healthy-time", "0"], 0);
  await run(["roll", "--dry-run"], 0);
  await run(["rollback", "s1", "--to", "2", "--json"], 0);
  await run(["rollback", "s1"], 0);
  await run(["unset", "s2", "LOG_LEVEL"], 0);
  await run(["unset", "s2", "GITHUB_TOKEN", "--json"], 0);

  // An unhealthy profile, so the sweep reports, writes its textfile and calls the webhook.
  await run(["stop", "s2"], 0);
  await both(["sweep", "--textfile", textfile, "--webhook", hookUrl], 7);
  await run(["sweep", "--restart-unhealthy", "--textfile", textfile, "--webhook", `${hookUrl}?token=x`, "--json"]);
  await run(["stop", "s2", "--json"], 0);
  await run(["sweep", "--print-cron"], 0);
  await run(["start", "s2"], 0);
  await run(["stop", "s3"], 0);
  await run(["remove", "s3"], 0);
  await run(["remove", "s2", "--json"], 0);

  // Positive control: --show-secrets prints the value, so the scan below would see it if it leaked.
  const shown = await run(["env", "s1", "--show-secrets"], 0);
  outputs.pop();
  outputs.pop();
  assert.ok(shown.stdout.includes(SECRETS.API_KEY), "env --show-secrets must print API_KEY");
  const masked = await run(["env", "s1"], 0);
  assert.match(masked.stdout, /^API_KEY="?\*{8}"?$/m);

  assert.ok(hookBodies.length >= 1, "the webhook was never called");
  figures.webhookBodies = hookBodies.length;
  const found: string[] = [];
  for (const o of outputs) {
    figures.outputsScanned++;
    for (const s of ALL) if (o.text.includes(s)) found.push(`${o.what} prints ${s.split("-")[0]}…`);
  }
  for (const [i, b] of hookBodies.entries()) for (const s of ALL) if (b.includes(s)) found.push(`webhook body ${i} holds ${s.split("-")[0]}…`);
  const allowedSeen: string[] = [];
  await scanTree(p.configRoot, found, allowedSeen);
  await scanTree(path.dirname(p.stateDir), found, allowedSeen);
  await scanTree(metricsDir, found, allowedSeen);
  // Files of ours in the log dir (none expected): everything but the gateways' own NAME.log.
  for (const e of await fs.readdir(logDir).catch(() => [] as string[])) {
    if (/^[a-z0-9][a-z0-9_-]*\.log$/.test(e)) continue;
    figures.filesScanned++;
    const text = await fs.readFile(path.join(logDir, e), "latin1");
    for (const s of ALL) if (text.includes(s)) found.push(`logs/${e} holds ${s.split("-")[0]}…`);
  }
  figures.allowedFiles = allowedSeen.length;
  assert.deepEqual(found, [], "secret values leaked");

  // The control the other way: the .env and its generations do hold them, so the scan read the right places.
  assert.ok((await fs.readFile(path.join(p.profilesDir, "s1", ".env"), "utf8")).includes(SECRETS.API_KEY));
  assert.ok(allowedSeen.some((f) => f.includes("generations/s1/")));
  assert.ok(allowedSeen.some((f) => f.includes("removed/s3.")), `removed copy: ${allowedSeen.join(", ")}`);
  assert.ok((await fs.readFile(path.join(p.stateDir, "sweeps.jsonl"), "utf8")).length > 0, "sweeps.jsonl was written");
  assert.ok((await fs.readFile(textfile, "utf8")).includes("agent_profiles_healthy"), "textfile was written");
});

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type ExecResult, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only: 19000-19099.
const RANGE = "19000-19039";
const SECRET = "mf-secret-4c3b2a1d";
const FAST = ["--min-healthy-time", "0.5", "--healthy-deadline", "6"];

let sb: Sandbox;
let sb2: Sandbox | null = null;

interface Row { name: string; port: number; pid: number | null; activeState: string; enabled: boolean }
interface Change { name: string; action: string; port: number | null; restart: boolean; env: { key: string; kind: string; old: string | null; new: string | null }[] }
interface Plan { pending: number; profiles: Change[]; unmanaged: string[] }
interface Applied { plan: Plan; removed: string[]; changed: { name: string; generation: number | null }[]; added: { name: string; port: number }[]; roll: { outcome: string; profiles: { name: string; outcome: string }[] } | null }

const run = (s: Sandbox, args: string[]) => s.profiles(args, { timeoutMs: 120_000 });
const json = <T>(r: ExecResult): T => JSON.parse(r.stdout) as T;
const noSecret = (r: ExecResult, what: string) => assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `the secret leaked from ${what}`);

async function writeAsUser(s: Sandbox, file: string, text: string): Promise<void> {
  const r = await s.exec("tee", [file], { input: text });
  assert.equal(r.code, 0, r.stderr);
}

const manifestFile = (s: Sandbox) => path.join(s.home, "profiles.ini");

async function plan(s: Sandbox, extra: string[] = []): Promise<{ code: number; plan: Plan; stderr: string }> {
  const r = await run(s, ["plan", "-f", manifestFile(s), "--json", ...extra]);
  noSecret(r, "plan");
  return { code: r.code, plan: r.stdout ? json<Plan>(r) : ({} as Plan), stderr: r.stderr };
}

async function apply(s: Sandbox, extra: string[] = []): Promise<{ code: number; result: Applied; stderr: string }> {
  const r = await run(s, ["apply", "-f", manifestFile(s), "--yes", "--json", ...FAST, ...extra]);
  noSecret(r, "apply");
  return { code: r.code, result: r.stdout ? json<Applied>(r) : ({} as Applied), stderr: r.stderr };
}

async function list(s: Sandbox): Promise<Map<string, Row>> {
  const r = await run(s, ["list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return new Map(json<Row[]>(r).map((row) => [row.name, row]));
}

async function generationCount(s: Sandbox, name: string): Promise<number> {
  const r = await run(s, ["history", name, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return json<{ generations: unknown[] }>(r).generations.length;
}

const envBytes = (s: Sandbox, name: string) => fs.readFile(path.join(s.home, ".config/agent-profiles/profiles", name, ".env"), "utf8");

async function healthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  return res?.status === 200;
}

async function init(s: Sandbox): Promise<void> {
  const r = await run(s, ["init", "--range", RANGE, "--log-dir", path.join(s.home, "logs"), "--no-sweep"]);
  assert.equal(r.code, 0, r.stderr);
}

const THREE = (m2Greeting: string, m3Host = "127.0.0.1") =>
  [
    "; three gateways",
    "[defaults]",
    "LOG_LEVEL = info",
    "",
    "[profile m1]",
    "port = 19001",
    `API_KEY = ${SECRET}`,
    "memory-max = 512M",
    "",
    "[profile m2]",
    "port = 19002",
    `GREETING = ${m2Greeting}`,
    "",
    "[profile m3]",
    "port = 19003",
    `HOST = ${m3Host}`,
    "",
  ].join("\n");

before(async () => {
  sb = await startSandbox();
  await init(sb);
});
after(async () => {
  await sb?.stop();
  await sb2?.stop();
});

test("plan then apply on an empty host: exit 16, then three healthy profiles; plan afterwards exit 0", async () => {
  await writeAsUser(sb, manifestFile(sb), THREE("hello"));
  const p = await plan(sb);
  assert.equal(p.code, 16, p.stderr);
  assert.deepEqual(p.plan.profiles.map((c) => [c.name, c.action, c.port, c.restart]), [["m1", "add", 19001, true], ["m2", "add", 19002, true], ["m3", "add", 19003, true]]);
  const a = await apply(sb);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(a.result.added.map((x) => [x.name, x.port]), [["m1", 19001], ["m2", 19002], ["m3", 19003]]);
  for (const port of [19001, 19002, 19003]) assert.ok(await healthy(port), `port ${port}`);
  assert.match(await envBytes(sb, "m1"), new RegExp(`^PORT="19001"\nLOG_LEVEL="info"\nAPI_KEY="${SECRET}"\n`, "m"));
  const again = await plan(sb);
  assert.equal(again.code, 0, again.stderr);
});

test("a second apply writes nothing and restarts nothing: same generations, same main PIDs, same files", async () => {
  const dirs = [path.join(sb.home, ".config"), path.join(sb.home, ".local/state/agent-profiles/generations")];
  const files = await Promise.all(dirs.map(snapshot));
  const pids = [...(await list(sb))].map(([n, r]) => [n, r.pid]);
  const gens = await Promise.all(["m1", "m2", "m3"].map((n) => generationCount(sb, n)));
  const a = await apply(sb);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.result.plan.pending, 0);
  assert.equal(a.result.roll, null);
  assert.deepEqual([...(await list(sb))].map(([n, r]) => [n, r.pid]), pids);
  assert.deepEqual(await Promise.all(["m1", "m2", "m3"].map((n) => generationCount(sb, n))), gens);
  assert.deepEqual(await Promise.all(dirs.map(snapshot)), files);
});

test("one changed key: plan names it (16), apply gives m2 one generation and restarts m2 alone", async () => {
  await writeAsUser(sb, manifestFile(sb), THREE("bonjour"));
  const p = await plan(sb);
  assert.equal(p.code, 16);
  const m2 = p.plan.profiles.find((c) => c.name === "m2")!;
  assert.deepEqual([m2.action, m2.restart, m2.env], ["change", true, [{ key: "GREETING", kind: "changed", secret: false, old: "hello", new: "bonjour" }]]);
  assert.deepEqual(p.plan.profiles.filter((c) => c.action !== "none").map((c) => c.name), ["m2"]);
  const before = await list(sb);
  const gens = await generationCount(sb, "m2");
  const a = await apply(sb, ["--canary", "1"]);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(a.result.roll!.profiles.map((x) => [x.name, x.outcome]), [["m2", "rolled"]]);
  const now = await list(sb);
  assert.notEqual(now.get("m2")!.pid, before.get("m2")!.pid);
  assert.equal(now.get("m1")!.pid, before.get("m1")!.pid, "m1 unchanged, not restarted");
  assert.equal(now.get("m3")!.pid, before.get("m3")!.pid, "m3 unchanged, not restarted");
  assert.equal(await generationCount(sb, "m2"), gens + 1);
  assert.equal((await plan(sb)).code, 0);
});

test("a change that breaks its gateway: apply halts (13), the profile is reverted and healthy, plan still shows the change", async () => {
  await writeAsUser(sb, manifestFile(sb), THREE("bonjour", "0.0.0.0"));
  const a = await apply(sb);
  assert.equal(a.code, 13, a.stderr);
  assert.deepEqual(a.result.roll!.profiles.map((x) => [x.name, x.outcome]), [["m3", "reverted"]]);
  assert.ok(await healthy(19003));
  assert.match(await envBytes(sb, "m3"), /HOST="127.0.0.1"/);
  assert.equal((await plan(sb)).code, 16);
  await writeAsUser(sb, manifestFile(sb), THREE("bonjour"));
  assert.equal((await plan(sb)).code, 0);
});

test("bad manifests exit 2 naming the line, port collisions exit 5; nothing changes", async () => {
  const dirs = [path.join(sb.home, ".config"), path.join(sb.home, ".local/state/agent-profiles/generations")];
  const before = await Promise.all(dirs.map(snapshot));
  const cases: [string, number, RegExp][] = [
    [`${THREE("x")}[profile m4]\nportt = 19004\n`, 2, /profiles\.ini: line 18: unknown setting "portt"/],
    [`${THREE("x")}[profile m4]\nport = 19001\n`, 5, /port 19001 .*profile "m1" as well .*lines 5 and 17/],
    ["[profile m1]\nport = 19002\n", 5, /port 19002 is taken by profile "m2"/],
    [`${THREE("x")}[service]\n`, 2, /line 17: unknown section \[service\]/],
  ];
  for (const [text, code, message] of cases) {
    await writeAsUser(sb, manifestFile(sb), text);
    for (const r of [await run(sb, ["plan", "-f", manifestFile(sb)]), await run(sb, ["apply", "-f", manifestFile(sb), "--yes"])]) {
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
    }
  }
  const after = await Promise.all(dirs.map(snapshot));
  assert.deepEqual(after, before);
});

test("pending restart: list shows a set without --restart; roll --changed restarts that profile alone", async () => {
  const set = await run(sb, ["set", "m2", "GREETING=pending"]);
  assert.equal(set.code, 0, set.stderr);
  const un = await run(sb, ["unset", "m3", "HOST"]);
  assert.equal(un.code, 0, un.stderr);
  const rows = json<(Row & { pendingRestart: boolean | null; generationOnDisk: number | null; generationRunning: number | null })[]>(await run(sb, ["list", "--json"]));
  const by = new Map(rows.map((r) => [r.name, r]));
  assert.deepEqual(rows.map((r) => [r.name, r.pendingRestart]), [["m1", false], ["m2", true], ["m3", true]]);
  assert.equal(by.get("m2")!.generationRunning! < by.get("m2")!.generationOnDisk!, true);
  const text = await run(sb, ["status"]);
  assert.match(text.stdout, /pending restart \(the \.env changed since the gateway started\): m2, m3/);
  const dry = await run(sb, ["roll", "--dry-run"]);
  assert.match(dry.stdout, /pending restart .*: m2, m3/);
  const before = await list(sb);
  const r = await run(sb, ["roll", "--changed", "--json", ...FAST]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(json<{ rolls: { profiles: { name: string; outcome: string }[] }[] }>(r).rolls[0]!.profiles.map((p) => [p.name, p.outcome]), [["m2", "rolled"], ["m3", "rolled"]]);
  const now = await list(sb);
  assert.equal(now.get("m1")!.pid, before.get("m1")!.pid, "m1 has no pending change: not restarted");
  assert.notEqual(now.get("m2")!.pid, before.get("m2")!.pid);
  const after = json<{ name: string; pendingRestart: boolean | null }[]>(await run(sb, ["list", "--json"]));
  assert.deepEqual(after.map((x) => x.pendingRestart), [false, false, false]);
  const none = await run(sb, ["roll", "--changed"]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /no profile has a pending restart/);
  // Back to what the manifest says, for the export test.
  await writeAsUser(sb, manifestFile(sb), THREE("bonjour"));
  const back = await apply(sb);
  assert.equal(back.code, 0, back.stderr);
});

test("secrets off the command line: set KEY --stdin (never in the CLI's /proc/PID/cmdline), set and add --env-file; a --unique key refused by add and plan", async () => {
  const typed = "mf-stdin-secret-77aa0b";
  const cli = path.join(sb.appDir, "dist/src/cli.cjs");
  // The CLI waits on a FIFO for its value while its command line is read; then the value is written.
  const script = [
    "set -e",
    'fifo="$HOME/value.fifo"; rm -f "$fifo"; mkfifo "$fifo"',
    `node ${cli} set m1 API_KEY --stdin < "$fifo" > "$HOME/set.out" 2>&1 & pid=$!`,
    'exec 3>"$fifo"',
    'deadline=$((SECONDS + 20)); until grep -q cli.cjs "/proc/$pid/cmdline" 2>/dev/null; do [ $SECONDS -lt $deadline ] || exit 9; read -t 0.05 <> <(:) || true; done',
    'tr "\\0" " " < "/proc/$pid/cmdline"; echo',
    `printf '%s\\n' '${typed}' >&3; exec 3>&-`,
    'wait $pid; echo "rc=$?"',
  ].join("\n");
  const r = await sb.exec("bash", ["-c", script], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cli\.cjs set m1 API_KEY --stdin/);
  assert.ok(!r.stdout.split("\n")[0]!.includes(typed), "the value is not on the command line");
  assert.match(r.stdout, /rc=0/, await fs.readFile(path.join(sb.home, "set.out"), "utf8"));
  assert.ok(!(await fs.readFile(path.join(sb.home, "set.out"), "utf8")).includes(typed));
  assert.match(await envBytes(sb, "m1"), new RegExp(`API_KEY="${typed}"`));

  // A KEY=VALUE with --stdin, and nothing to set: exit 2.
  for (const args of [["set", "m1", "API_KEY=x", "--stdin"], ["set", "m1"]]) assert.equal((await run(sb, args)).code, 2, args.join(" "));

  // --env-file: keys from a file, parsed as systemd reads it; a broken file names its line (exit 2).
  const file = path.join(sb.home, "m1.env");
  await writeAsUser(sb, file, `# the secret\nAPI_KEY="${SECRET}"\n`);
  const set = await run(sb, ["set", "m1", "--env-file", file]);
  assert.equal(set.code, 0, set.stderr);
  noSecret(set, "set --env-file");
  assert.match(await envBytes(sb, "m1"), new RegExp(`API_KEY="${SECRET}"`));
  await writeAsUser(sb, path.join(sb.home, "bad.env"), "A=1\nnot a pair\n");
  const bad = await run(sb, ["set", "m1", "--env-file", path.join(sb.home, "bad.env")]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.env: line 2: /);

  await writeAsUser(sb, path.join(sb.home, "m4.env"), `LOG_LEVEL=debug\nAPI_KEY='${SECRET}'\n`);
  const added = await run(sb, ["add", "m4", "--env-file", path.join(sb.home, "m4.env"), "--env", "LOG_LEVEL=info", "--json"]);
  assert.equal(added.code, 0, added.stderr);
  noSecret(added, "add --env-file");
  const port = json<{ port: number }>(added).port;
  assert.equal(await envBytes(sb, "m4"), `# Written by agent-profiles; edit with \`profiles set\`, or by hand (systemd EnvironmentFile= syntax).\nPORT="${port}"\nLOG_LEVEL="info"\nAPI_KEY="${SECRET}"\n`);
  assert.equal((await run(sb, ["remove", "m4", "--purge"])).code, 0);

  // A [unique] key: a second profile with m1's API_KEY is refused (5) by add and plan, naming m1, never the value.
  assert.equal((await run(sb, ["init", "--unique", "API_KEY"])).code, 0);
  const dupAdd = await run(sb, ["add", "m5", "--env", `API_KEY=${SECRET}`, "--no-start"]);
  assert.equal(dupAdd.code, 5, dupAdd.stderr);
  assert.match(dupAdd.stderr, /API_KEY of profile "m5" has the same value as profile "m1"'s/);
  noSecret(dupAdd, "add of a duplicate");
  await writeAsUser(sb, manifestFile(sb), `${THREE("bonjour")}[profile m5]\nport = 19005\nenv-file = ${file}\n`);
  const dupPlan = await run(sb, ["plan", "-f", manifestFile(sb)]);
  assert.equal(dupPlan.code, 5, dupPlan.stderr);
  noSecret(dupPlan, "plan of a duplicate");
  assert.equal((await run(sb, ["init", "--unique", ""])).code, 0);
  await writeAsUser(sb, manifestFile(sb), THREE("bonjour"));
  assert.equal((await plan(sb)).code, 0, "m1 is back to what the manifest says");
});

test("host settings in [defaults]: plan lists them (16), apply sets them as init does (config.ini, the template, one reload), restarting nothing; then nothing to do", async () => {
  const host = "[defaults]\nstop-timeout = 20\nstart-limit-burst = 3\nsweep-rollback-broken = yes\n";
  await writeAsUser(sb, manifestFile(sb), THREE("bonjour").replace("[defaults]\n", host));
  const before = await list(sb);
  const p = await plan(sb);
  assert.equal(p.code, 16, p.stderr);
  const hostPlan = (p.plan as Plan & { host: { key: string; before: string | null; after: string | null }[] }).host;
  assert.deepEqual(hostPlan, [
    { key: "stop-timeout", before: "15", after: "20" },
    { key: "start-limit-burst", before: null, after: "3" },
    { key: "sweep-rollback-broken", before: "no", after: "yes" },
  ]);
  assert.deepEqual(p.plan.profiles.filter((c) => c.action !== "none"), [], "no profile changes");
  const text = await run(sb, ["plan", "-f", manifestFile(sb)]);
  assert.match(text.stdout, /3 host setting\(s\) to change; 0 profile\(s\) would \(re\)start/);
  assert.match(text.stdout, /stop-timeout: 15 → 20/);

  const a = await apply(sb);
  assert.equal(a.code, 0, a.stderr);
  const config = (await sb.exec("cat", [path.join(sb.home, ".config/agent-profiles/config.ini")])).stdout;
  assert.match(config, /stop_timeout_sec=20/);
  assert.match(config, /rollback_broken=true/);
  assert.match(config, /StartLimitBurst=3/);
  const unit = (await sb.exec("cat", [path.join(sb.home, ".config/systemd/user/agent-gateway@.service")])).stdout;
  assert.match(unit, /^TimeoutStopSec=20$/m);
  assert.match(unit, /^StartLimitBurst=3$/m);
  // The manager was reloaded: the loaded instance has the template's new stop timeout.
  const shown = await sb.exec("systemctl", ["--user", "show", "agent-gateway@m1.service", "-p", "TimeoutStopUSec", "--value"]);
  assert.equal(shown.stdout.trim(), "20s");
  assert.deepEqual([...(await list(sb))].map(([n, r]) => [n, r.pid]), [...before].map(([n, r]) => [n, r.pid]), "no profile restarted");
  assert.equal((await plan(sb)).code, 0);
  const ex = await run(sb, ["export"]);
  assert.match(ex.stdout, /\[defaults\]\n; host settings[^\n]*\n(.+\n)*stop-timeout = 20\n/);
  assert.match(ex.stdout, /^start-limit-burst = 3$/m);
});

test("export → plan has nothing to do; export → apply on a second user manager gives the same profiles, ports and .env bytes; --prune", async () => {
  const ex = await run(sb, ["export"]);
  assert.equal(ex.code, 0, ex.stderr);
  noSecret(ex, "export");
  assert.match(ex.stdout, /keep = API_KEY/);
  await writeAsUser(sb, manifestFile(sb), ex.stdout);
  assert.equal((await plan(sb, ["--prune"])).code, 0);
  const rows = await list(sb);
  const bytes = Object.fromEntries(await Promise.all(["m1", "m2", "m3"].map(async (n) => [n, await envBytes(sb, n)])));

  // Prune: a manifest without m3 removes it, only with --prune.
  await writeAsUser(sb, manifestFile(sb), ex.stdout.replace(/\[profile m3\][^[]*/, ""));
  const p = await plan(sb, ["--prune"]);
  assert.equal(p.code, 16);
  assert.deepEqual(p.plan.profiles.filter((c) => c.action !== "none").map((c) => [c.name, c.action]), [["m3", "remove"]]);
  assert.equal((await plan(sb)).code, 0, "without --prune m3 is left alone");
  const pruned = await apply(sb, ["--prune"]);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.deepEqual(pruned.result.removed, ["m3"]);
  assert.equal((await list(sb)).has("m3"), false);
  // The rest go too (an empty manifest), freeing the ports for the second manager.
  await writeAsUser(sb, manifestFile(sb), "; nothing\n");
  assert.equal((await apply(sb, ["--prune"])).code, 0);
  assert.equal((await list(sb)).size, 0);

  sb2 = await startSandbox();
  await init(sb2);
  // The secret left out of the export comes from an env-file the operator supplies.
  const secrets = path.join(sb2.home, "m1.secrets.env");
  await writeAsUser(sb2, secrets, `API_KEY="${SECRET}"\n`);
  // The export names the first host's log dir: on this host the operator gives its own.
  assert.match(ex.stdout, new RegExp(`^log-dir = ${path.join(sb.home, "logs")}$`, "m"));
  const forSb2 = ex.stdout.replace("keep = API_KEY\n", `keep = API_KEY\nenv-file = ${secrets}\n`).replace(/^log-dir = .*$/m, `log-dir = ${path.join(sb2.home, "logs")}`);
  await writeAsUser(sb2, manifestFile(sb2), forSb2);
  const a = await apply(sb2);
  assert.equal(a.code, 0, a.stderr);
  const rows2 = await list(sb2);
  assert.deepEqual([...rows2.keys()], ["m1", "m2", "m3"]);
  for (const n of ["m1", "m2", "m3"]) {
    assert.equal(rows2.get(n)!.port, rows.get(n)!.port, n);
    assert.equal(await envBytes(sb2, n), bytes[n], `${n}'s .env bytes`);
    assert.ok(await healthy(rows2.get(n)!.port), n);
  }
  assert.equal((await plan(sb2)).code, 0);
  // The host settings came across too.
  assert.match((await sb2.exec("cat", [path.join(sb2.home, ".config/systemd/user/agent-gateway@.service")])).stdout, /^StartLimitBurst=3$/m);
});

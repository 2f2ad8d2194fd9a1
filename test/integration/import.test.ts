import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type ExecResult, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only: 19400-19479.
const RANGE = "19400-19479";
const TEMPLATE = "hermes-gateway@%i.service";
const PER_PROFILE = "hermes-gateway-%i.service";
const ENV_PATH = "%h/.hermes/profiles/%i/.env";

let sb: Sandbox;
let gateway: string;

interface Row { name: string; port: number; pid: number | null; activeState: string; enabled: boolean }
interface Imported { dryRun: boolean; plan: { name: string; port: number; env: string }[]; skipped: { name: string }[]; results: { name: string; outcome: string; generation: number | null; restored: { enabled: boolean; running: boolean } | null }[] }

const run = (args: string[]) => sb.profiles(args, { timeoutMs: 120_000 });
const json = <T>(r: ExecResult): T => JSON.parse(r.stdout) as T;
const hermesEnv = (name: string) => path.join(sb.home, ".hermes/profiles", name, ".env");
const unitDir = () => path.join(sb.home, ".config/systemd/user");
// What the operator's own state looks like: everything but the CLI's code cache.
const state = async () => Promise.all([".config", ".hermes", ".local/state"].map((d) => snapshot(path.join(sb.home, d))));

async function asUser(script: string, ...args: string[]): Promise<void> {
  const r = await sb.exec("bash", ["-c", script, "bash", ...args]);
  assert.equal(r.code, 0, r.stderr);
}

/** A Hermes profile's .env as people write it by hand: no quotes, a comment, a secret key. */
function envText(port: number, extra = ""): string {
  return `# hermes profile, written by hand\nAPI_SERVER_PORT=${port}\nAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_KEY=sk-hermes-${port}-0123456789abcdef\n${extra}`;
}

async function writeEnv(name: string, text: string): Promise<void> {
  await asUser('mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1" && chmod 600 "$1"', hermesEnv(name), text);
}

/** A hand-written unit as the Hermes guide (template) or hermes-agent (one per profile) writes it. */
async function writeUnit(file: string, envFile: string): Promise<void> {
  const text = `[Unit]\nDescription=Hermes gateway\n\n[Service]\nEnvironmentFile=${envFile}\nExecStart=${gateway}\nRestart=on-failure\n\n[Install]\nWantedBy=default.target\n`;
  await asUser('mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1" && systemctl --user daemon-reload', path.join(unitDir(), file), text);
}

/** Enable and start old units, and wait until each answers on its port. */
async function startOld(units: string[], ports: number[]): Promise<void> {
  await asUser('systemctl --user enable --now "$@"', ...units);
  for (const port of ports) await waitHealthy(port);
}

async function waitHealthy(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await healthy(port))) {
    if (Date.now() > deadline) assert.fail(`nothing healthy on port ${port} after 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function healthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  return res?.status === 200;
}

/** Stop and disable old units and delete their .env files: a test's leftovers are no later import's business. */
async function dropOld(units: string[], names: string[]): Promise<void> {
  await asUser('systemctl --user disable --now "$@" && systemctl --user reset-failed "$@" || true', ...units);
  for (const n of names) await fs.rm(path.dirname(hermesEnv(n)), { recursive: true, force: true });
}

/** Whether a unit is enabled as the files on disk say (`is-enabled`: the loaded unit's UnitFileState waits for a daemon-reload). */
async function isEnabled(unit: string): Promise<string> {
  return (await sb.exec("systemctl", ["--user", "is-enabled", unit])).stdout.trim();
}

async function list(): Promise<Map<string, Row>> {
  const r = await run(["list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return new Map(json<Row[]>(r).map((row) => [row.name, row]));
}

before(async () => {
  sb = await startSandbox();
  gateway = `${process.execPath} ${path.join(sb.appDir, "dist/test/fixtures/hermes-gateway.js")}`;
  await writeUnit("hermes-gateway@.service", "%h/.hermes/profiles/%i/.env");
});
after(async () => {
  await sb?.stop();
});

test("init --env-path: a pattern without %i, with another specifier or relative exits 2 and writes nothing", async () => {
  const before = await state();
  for (const bad of ["%h/.hermes/profiles/.env", "%h/.hermes/%u/%i/.env", "hermes/%i/.env"]) {
    const r = await run(["init", "--env-path", bad, "--no-sweep"]);
    assert.equal(r.code, 2, `${bad}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /--env-path/);
  }
  assert.deepEqual(await state(), before);
});

test("init --env-path: the template's EnvironmentFile= and AGENT_ENV_FILE= follow the pattern", async () => {
  const r = await run(["init", "--env-path", ENV_PATH, "--port-var", "API_SERVER_PORT", "--host-var", "API_SERVER_HOST", "--exec", gateway, "--range", RANGE, "--no-sweep", "--log-dir", path.join(sb.home, "logs")]);
  assert.equal(r.code, 0, r.stderr);
  const unit = await fs.readFile(path.join(unitDir(), "agent-gateway@.service"), "utf8");
  assert.match(unit, /^EnvironmentFile=%h\/\.hermes\/profiles\/%i\/\.env$/m);
  assert.match(unit, /^Environment=AGENT_ENV_FILE=%h\/\.hermes\/profiles\/%i\/\.env$/m);
  assert.match(await fs.readFile(path.join(sb.home, ".config/agent-profiles/config.ini"), "utf8"), /env_path=%h\/\.hermes\/profiles\/%i\/\.env/);
});

test("import: bad inputs exit 2 (pattern, name) or 3 (no such profile), and nothing is written", async () => {
  const before = await state();
  const cases: [string[], number][] = [
    [["--from-unit", "hermes-gateway@.service"], 2],
    [["--from-unit", "hermes-*@%i.service"], 2],
    [["--from-unit", "agent-gateway@%i.service"], 2],
    [["--from-unit", TEMPLATE, "Bad!Name"], 2],
    [["--from-unit", TEMPLATE, "nosuch"], 3],
  ];
  for (const [args, code] of cases) {
    const r = await run(["import", ...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
  }
  assert.deepEqual(await state(), before);
});

test("two old profiles on one port: exit 5 naming both, nothing changed", async () => {
  await writeEnv("carol", envText(19403));
  await writeEnv("dave", envText(19403));
  const before = await state();
  const r = await run(["import", "--from-unit", TEMPLATE, "carol", "dave"]);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /port 19403 .*"carol".*"dave"/);
  assert.deepEqual(await state(), before);
  await dropOld([], ["carol", "dave"]);
});

test("--dry-run prints the plan and changes nothing: same files, same old processes (PID and InvocationID)", async () => {
  await writeEnv("alice", envText(19401));
  await writeEnv("bob", envText(19402, "GREETING=hi there # not a comment\n"));
  await startOld(["hermes-gateway@alice.service", "hermes-gateway@bob.service"], [19401, 19402]);
  const props = ["MainPID", "InvocationID", "ActiveState", "UnitFileState"];
  const units = await Promise.all(["alice", "bob"].map((n) => showUnit(sb, `hermes-gateway@${n}.service`, props)));
  const before = await state();
  const r = await run(["import", "--from-unit", TEMPLATE, "--dry-run", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = json<Imported>(r);
  assert.deepEqual(out.plan.map((p) => [p.name, p.port, p.env]), [["alice", 19401, "in place"], ["bob", 19402, "in place"]]);
  assert.deepEqual(out.results, []);
  assert.ok(!r.stdout.includes("sk-hermes"), "no secret in the plan");
  assert.deepEqual(await state(), before);
  assert.deepEqual(await Promise.all(["alice", "bob"].map((n) => showUnit(sb, `hermes-gateway@${n}.service`, props))), units);
});

test("an import whose gate fails puts the old unit back running and enabled, and leaves nothing of its own", async () => {
  const text = envText(19404, "FAIL_UNDER_AGENT_PROFILES=1\n");
  await writeEnv("erin", text);
  await startOld(["hermes-gateway@erin.service"], [19404]);
  const ours = () => Promise.all([".config/agent-profiles", ".local/state/agent-profiles/generations"].map((d) => snapshot(path.join(sb.home, d))));
  const before = await ours();
  const r = await run(["import", "--from-unit", TEMPLATE, "erin", "--wait", "10", "--json"]);
  assert.equal(r.code, 7, r.stdout + r.stderr);
  const out = json<Imported>(r);
  assert.deepEqual(out.results.map((x) => [x.name, x.outcome, x.restored]), [["erin", "failed", { enabled: true, running: true }]]);
  await waitForUnit(sb, "hermes-gateway@erin.service", ["ActiveState", "SubState"], (p) => p.ActiveState === "active" && p.SubState === "running");
  assert.equal(await isEnabled("hermes-gateway@erin.service"), "enabled");
  assert.equal(await isEnabled("agent-gateway@erin.service"), "disabled");
  await waitHealthy(19404);
  assert.equal(await fs.readFile(hermesEnv("erin"), "utf8"), text);
  assert.deepEqual(await ours(), before);
  assert.ok(!(await list()).has("erin"));
  await dropOld(["hermes-gateway@erin.service"], ["erin"]);
});

test("import of the Hermes guide's template: ours run healthy, .env bytes unchanged, generation 1 imported, old units disabled and stopped, their file kept", async () => {
  const texts = await Promise.all(["alice", "bob"].map((n) => fs.readFile(hermesEnv(n))));
  const r = await run(["import", "--from-unit", TEMPLATE, "--json"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(json<Imported>(r).results.map((x) => [x.name, x.outcome, x.generation]), [["alice", "imported", 1], ["bob", "imported", 1]]);
  const rows = await list();
  for (const [name, port] of [["alice", 19401], ["bob", 19402]] as const) {
    assert.equal(rows.get(name)?.activeState, "active", name);
    assert.equal(rows.get(name)?.port, port);
    assert.ok(await healthy(port), name);
    const old = `hermes-gateway@${name}.service`;
    assert.deepEqual([(await showUnit(sb, old, ["ActiveState"])).ActiveState, await isEnabled(old)], ["inactive", "disabled"], name);
    const h = await run(["history", name, "--json"]);
    const gens = json<{ generations: { number: number; reason: string; knownGood: boolean }[] }>(h).generations;
    assert.deepEqual(gens.map((g) => [g.number, g.reason, g.knownGood]), [[1, "imported", true]]);
  }
  assert.deepEqual(await Promise.all(["alice", "bob"].map((n) => fs.readFile(hermesEnv(n)))), texts);
  await fs.access(path.join(unitDir(), "hermes-gateway@.service"));
  // The env-path cannot move while profiles live there.
  const config = await fs.readFile(path.join(sb.home, ".config/agent-profiles/config.ini"), "utf8");
  const moved = await run(["init", "--env-path", ""]);
  assert.equal(moved.code, 2);
  assert.match(moved.stderr, /alice, bob/);
  assert.equal(await fs.readFile(path.join(sb.home, ".config/agent-profiles/config.ini"), "utf8"), config);
  // doctor finds the .env files where the env-path says: 0600, loadable, ports as recorded.
  const doctor = json<{ checks: { id: string; status: string; message: string }[] }>(await run(["doctor", "--json"]));
  for (const id of ["files", "env-files", "generations", "ports-shared", "ports-held", "template"]) {
    const c = doctor.checks.find((x) => x.id === id);
    assert.equal(c?.status, "ok", `${id}: ${c?.message}`);
  }
});

test("a port one of our profiles holds is refused (exit 5), naming it", async () => {
  await writeEnv("gina", envText(19401));
  const r = await run(["import", "--from-unit", TEMPLATE, "gina"]);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /profile "alice"/);
  await dropOld([], ["gina"]);
});

test("hermes-agent's layout, one unit per profile: imported too, the old unit file kept", async () => {
  await writeEnv("frank", envText(19405));
  await writeUnit("hermes-gateway-frank.service", "%h/.hermes/profiles/frank/.env");
  await startOld(["hermes-gateway-frank.service"], [19405]);
  const text = await fs.readFile(hermesEnv("frank"));
  const r = await run(["import", "--from-unit", PER_PROFILE, "--json"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = json<Imported>(r);
  assert.deepEqual(out.results.map((x) => [x.name, x.outcome]), [["frank", "imported"]]);
  assert.deepEqual(out.skipped.map((s) => s.name).sort(), ["alice", "bob"]);
  assert.ok(await healthy(19405));
  assert.deepEqual(await fs.readFile(hermesEnv("frank")), text);
  const old = "hermes-gateway-frank.service";
  assert.deepEqual([(await showUnit(sb, old, ["ActiveState"])).ActiveState, await isEnabled(old)], ["inactive", "disabled"]);
  await fs.access(path.join(unitDir(), "hermes-gateway-frank.service"));
  // remove takes the .env from where the env-path put it, and keeps its bytes under removed/.
  const removed = await run(["remove", "frank", "--json"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(await fs.readFile(json<{ keptEnv: string }>(removed).keptEnv), text);
  await assert.rejects(fs.access(path.dirname(hermesEnv("frank"))));
});

test("with an env-path, add and set write the .env where the pattern says, generations and all", async () => {
  const r = await run(["add", "hank", "--port", "19406", "--env", "API_SERVER_KEY=sk-hank-0123456789abcdef"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(await fs.readFile(hermesEnv("hank"), "utf8"), /^API_SERVER_PORT="19406"$/m);
  assert.equal((await fs.stat(hermesEnv("hank"))).mode & 0o777, 0o600);
  assert.ok(await healthy(19406));
  const s = await run(["set", "hank", "GREETING=hello"]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(await fs.readFile(hermesEnv("hank"), "utf8"), /^GREETING="hello"$/m);
  await assert.rejects(fs.access(path.join(sb.home, ".config/agent-profiles/profiles/hank/.env")));
});

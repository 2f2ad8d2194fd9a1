import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { spawnCli, startSandbox, userPaths, type ExecResult, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, signalWhenRunning, waitForUnit } from "../helpers/unit-props.js";

// Ctrl-C and SIGTERM during `apply` and `import` (the other verbs: interrupt.test.ts). Ports of this file only.
const RANGE = "18960-18969";
const FAST = ["--min-healthy-time", "0.5", "--healthy-deadline", "6"];

let sb: Sandbox;
let gateway: string;

before(async () => {
  sb = await startSandbox();
  gateway = `${process.execPath} ${path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js")}`;
  const init = await sb.profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep", "--exec", gateway]);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  await sb?.stop();
});

const run = (args: string[]) => sb.profiles(args, { timeoutMs: 120_000 });
const json = <T>(r: ExecResult): T => JSON.parse(r.stdout) as T;
const names = async (): Promise<string[]> => json<{ name: string }[]>(await run(["list", "--json"])).map((p) => p.name);
const generations = async (name: string) => json<{ generations: { number: number; knownGood: boolean }[] }>(await run(["history", name, "--json"])).generations.map((g) => [g.number, g.knownGood]);
const activeState = async (unit: string) => (await showUnit(sb, unit, ["ActiveState"])).ActiveState;

async function asUser(script: string, ...args: string[]): Promise<void> {
  const r = await sb.exec("bash", ["-c", script, "bash", ...args]);
  assert.equal(r.code, 0, r.stderr);
}

/** No lock of this tool is left held: each is a file while held. */
async function noLocks(): Promise<void> {
  const held = (await fs.readdir(userPaths(sb).locksDir)).filter((f) => f.endsWith(".lock"));
  assert.deepEqual(held, []);
}

test("Ctrl-C while apply waits for a new profile: exit 130 naming what was done, the one under way and what was not begun; the next apply converges", async () => {
  const add = await run(["add", "keeper", "--port", "18960", "--env", "HEALTH_STATUS=200"]);
  assert.equal(add.code, 0, add.stderr);
  const file = path.join(sb.home, "profiles.ini");
  const manifest = (slow: string) =>
    ["[profile keeper]", "port = 18960", "HEALTH_STATUS = 200", "COLOUR = blue", "", "[profile slow]", "port = 18961", slow, "", "[profile next]", "port = 18962", "HEALTH_STATUS = 200", ""].join("\n");
  await asUser('printf %s "$2" > "$1"', file, manifest("NEVER_LISTEN = 1"));

  const r = await signalWhenRunning(sb, ["apply", "-f", file, "--yes", "--wait", "120", ...FAST], "agent-gateway@slow.service", "SIGINT");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /SIGINT: stopping once the step under way is done/);
  assert.match(
    r.stderr,
    /slow: SIGINT stopped the wait for its start, which goes on in the manager; not marked known-good \(added on port 18961 as generation 1\) \(before it: changed keeper; not begun: add next, the roll \(keeper\)\)/,
  );
  assert.ok(r.stderr.includes("next: run `profiles status slow`; then run the same `profiles apply` again (the same manifest and flags): it finishes what this one began, then does what is left"), r.stderr);
  // keeper changed and not rolled yet; next never begun.
  assert.deepEqual(await names(), ["keeper", "slow"]);
  assert.deepEqual(await generations("keeper"), [[2, false], [1, true]]);
  assert.equal(await activeState("agent-gateway@next.service"), "inactive");
  await noLocks();

  await asUser('printf %s "$2" > "$1"', file, manifest("HEALTH_STATUS = 200"));
  const again = await run(["apply", "-f", file, "--yes", "--json", ...FAST]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const done = json<{ resumed: { outcome: string } | null; added: { name: string }[]; roll: { outcome: string } | null }>(again);
  assert.deepEqual([done.resumed?.outcome, done.added.map((a) => a.name), done.roll?.outcome], ["completed", ["next"], "completed"]);
  assert.deepEqual(await generations("keeper"), [[2, true], [1, true]]);
  const plan = await run(["plan", "-f", file, "--json"]);
  assert.equal(json<{ pending: number }>(plan).pending, 0, plan.stdout);
});

test("Ctrl-C while import waits for a profile's gate: exit 130, that profile back on its old unit, the next one not begun", async () => {
  const unitDir = path.join(sb.home, ".config/systemd/user");
  const unit = `[Unit]\nDescription=old gateway\n\n[Service]\nEnvironmentFile=%h/old/%i.env\nExecStart=${gateway}\n\n[Install]\nWantedBy=default.target\n`;
  await asUser('mkdir -p "$1" && printf %s "$2" > "$1/old-gateway@.service" && systemctl --user daemon-reload', unitDir, unit);
  await asUser('mkdir -p "$1" && printf "PORT=18963\\nNEVER_LISTEN=1\\n" > "$1/imp-a.env" && printf "PORT=18964\\nHEALTH_STATUS=200\\n" > "$1/imp-b.env"', path.join(sb.home, "old"));
  await asUser("systemctl --user enable --now old-gateway@imp-a.service old-gateway@imp-b.service");

  const args = ["import", "--from-unit", "old-gateway@%i.service", "imp-a", "imp-b", "--wait", "120"];
  const r = await signalWhenRunning(sb, args, "agent-gateway@imp-a.service", "SIGINT");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /imp-a: SIGINT stopped its import before its gate; old-gateway@imp-a\.service put back: enabled, running; nothing of the import is left \(not begun: imp-b\)/);
  assert.match(r.stderr, /next: run `profiles import --from-unit 'old-gateway@%i\.service' imp-a imp-b` to import what is left/);
  assert.deepEqual(await names(), ["keeper", "next", "slow"]);
  for (const name of ["imp-a", "imp-b"]) {
    assert.equal(await activeState(`old-gateway@${name}.service`), "active", name);
    assert.equal((await sb.exec("systemctl", ["--user", "is-enabled", `old-gateway@${name}.service`])).stdout.trim(), "enabled", name);
    assert.equal(await activeState(`agent-gateway@${name}.service`), "inactive", name);
  }
  await noLocks();
});

// An old unit whose gateway ignores SIGTERM: its stop lasts TimeoutStopSec (4 s here), then SIGKILL.
test("a second Ctrl-C while import stops the old unit is answered, not obeyed: the profile is put back on it, never left on neither", async () => {
  const unitDir = path.join(sb.home, ".config/systemd/user");
  const unit = `[Unit]\nDescription=old gateway, slow to stop\n\n[Service]\nEnvironmentFile=%h/old/%i.env\nExecStart=${gateway}\nTimeoutStopSec=4\n\n[Install]\nWantedBy=default.target\n`;
  await asUser('mkdir -p "$1" && printf %s "$2" > "$1/slow-old@.service" && systemctl --user daemon-reload', unitDir, unit);
  await asUser('printf "PORT=18965\\nHEALTH_STATUS=200\\nIGNORE_SIGTERM=1\\n" > "$1/imp-c.env"', path.join(sb.home, "old"));
  await asUser("systemctl --user enable --now slow-old@imp-c.service");

  const run = spawnCli(sb, ["import", "--from-unit", "slow-old@%i.service", "imp-c", "--wait", "60"]);
  await waitForUnit(sb, "slow-old@imp-c.service", ["ActiveState"], (p) => p.ActiveState === "deactivating");
  run.kill("SIGINT");
  await run.until(/SIGINT: taking imp-c off slow-old@imp-c\.service first/, 15_000, "stderr");
  run.kill("SIGINT");
  const r = await run.done;
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /imp-c: SIGINT stopped its import before its gate; slow-old@imp-c\.service put back: enabled, running; nothing of the import is left/);
  assert.equal(await activeState("slow-old@imp-c.service"), "active");
  assert.equal((await sb.exec("systemctl", ["--user", "is-enabled", "slow-old@imp-c.service"])).stdout.trim(), "enabled");
  assert.equal(await activeState("agent-gateway@imp-c.service"), "inactive");
  await noLocks();
});

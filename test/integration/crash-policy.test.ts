import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only: 19120-19139.
const RANGE = "19120-19139";

let sb: Sandbox;
let release = 0;
const profiles = (args: string[], timeoutMs = 60_000) => sb.profiles(args, { timeoutMs });
const figures: Record<string, unknown> = {};

const unitDir = () => path.join(sb.home, ".config/systemd/user");
const dropIn = (name: string) => path.join(unitDir(), `agent-gateway@${name}.service.d`, "50-limits.conf");
const readOrNull = (file: string) => fs.readFile(file, "utf8").catch(() => null);

before(async () => {
  sb = await startSandbox();
  const gateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep", "--exec", `node ${gateway}`]);
  assert.equal(init.code, 0, init.stderr);
  // The manager's own Version (systemctl show without a unit), as `profiles` reads it over D-Bus.
  const v = await sb.exec("systemctl", ["--user", "show", "--property=Version"]);
  release = Number(/^Version=(\d+)/m.exec(v.stdout)?.[1] ?? 0);
  assert.ok(release > 0, v.stdout + v.stderr);
  figures.release = release;
});
after(async () => {
  console.log(`# crash-policy figures: ${JSON.stringify(figures)}`);
  await sb?.stop();
});

/** Add a profile whose gateway exits `code` at every start, not started. */
async function addExiting(name: string, code: number): Promise<void> {
  const r = await profiles(["add", name, "--env", `EXIT_CODE=${code}`, "--no-start"]);
  assert.equal(r.code, 0, r.stderr);
}

test("--start-limit-burst 2: a gateway exiting 1 hits its start limit after 2 starts, and health says so", async () => {
  await addExiting("burst", 1);
  const lim = await profiles(["limits", "burst", "--start-limit-burst", "2", "--restart-sec", "0.1", "--json"]);
  assert.equal(lim.code, 0, lim.stderr);
  const out = JSON.parse(lim.stdout) as { policy: { StartLimitBurst: number } };
  assert.equal(out.policy.StartLimitBurst, 2);
  assert.match((await readOrNull(dropIn("burst")))!, /\[Unit\]\nStartLimitBurst=2\n\[Service\]\nRestartSec=0\.1s\n/);

  const start = await profiles(["start", "burst", "--wait", "20"]);
  assert.equal(start.code, 7, start.stdout + start.stderr);
  const p = await waitForUnit(sb, "agent-gateway@burst.service", ["ActiveState", "NRestarts", "Result", "ExecMainStatus"], (x) => x.ActiveState === "failed");
  figures.burst2 = p;
  // Two starts ran (the gateway's own lines say so); systemd 252 counts the refused third as a restart too.
  assert.equal(p.ExecMainStatus, "1");
  const runs = ((await readOrNull(path.join(sb.home, "logs", "burst.log"))) ?? "").split("\n").filter((l) => l.includes("exits 1 on purpose")).length;
  figures.burst2Runs = runs;
  assert.equal(runs, 2, `the gateway ran ${runs} times under StartLimitBurst=2`);
  assert.ok(Number(p.NRestarts) <= 2, `NRestarts ${p.NRestarts} with StartLimitBurst=2`);
  const h = await profiles(["health", "burst", "--json"]);
  assert.equal(h.code, 7);
  const [v] = JSON.parse(h.stdout) as { condition: string; problems: string[] }[];
  assert.equal(v!.condition, "start-limit-hit", JSON.stringify(v));
});

test("--no-restart-on-exit 1: a gateway exiting 1 is not restarted at all", async () => {
  await addExiting("once", 1);
  const lim = await profiles(["limits", "once", "--no-restart-on-exit", "1", "--restart-sec", "0.1"]);
  assert.equal(lim.code, 0, lim.stderr);
  assert.match(lim.stdout, /crash loop: .*no restart after exit 1\b/);
  assert.match((await readOrNull(dropIn("once")))!, /RestartPreventExitStatus=\nRestartPreventExitStatus=1\n/);
  const start = await profiles(["start", "once", "--wait", "20"]);
  assert.equal(start.code, 7, start.stdout + start.stderr);
  const p = await waitForUnit(sb, "agent-gateway@once.service", ["ActiveState", "NRestarts", "Result"], (x) => x.ActiveState === "failed");
  figures.noRestart = p;
  assert.deepEqual([p.NRestarts, p.Result], ["0", "exit-code"]);
  const runs = ((await readOrNull(path.join(sb.home, "logs", "once.log"))) ?? "").split("\n").filter((l) => l.includes("exits 1 on purpose")).length;
  assert.equal(runs, 1, `the gateway ran ${runs} times`);
  const [v] = JSON.parse((await profiles(["health", "once", "--json"])).stdout) as { condition: string }[];
  assert.equal(v!.condition, "failed");
});

test("--restart-steps and --restart-max-delay: refused below systemd 254 naming both versions, nothing written", async () => {
  await addExiting("steps", 1);
  const index = path.join(sb.home, ".local/state/agent-profiles/generations/steps/index.json");
  const before = { index: await readOrNull(index), dropIn: await readOrNull(dropIn("steps")), template: await readOrNull(path.join(unitDir(), "agent-gateway@.service")), config: await readOrNull(path.join(sb.home, ".config/agent-profiles/config.ini")) };
  const lim = await profiles(["limits", "steps", "--restart-steps", "3", "--restart-max-delay", "60"]);
  const init = await profiles(["init", "--restart-steps", "3", "--restart-max-delay", "60"]);
  figures.backoff = { limits: lim.code, init: init.code, message: lim.stderr.split("\n")[0] };
  if (release >= 254) {
    assert.equal(lim.code, 0, lim.stderr);
    assert.match((await readOrNull(dropIn("steps")))!, /RestartSteps=3\nRestartMaxDelaySec=60s/);
    return;
  }
  for (const r of [lim, init]) {
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--restart-steps and --restart-max-delay need systemd 254 or newer; this user manager is systemd ${release}\\b`));
  }
  assert.deepEqual(
    { index: await readOrNull(index), dropIn: await readOrNull(dropIn("steps")), template: await readOrNull(path.join(unitDir(), "agent-gateway@.service")), config: await readOrNull(path.join(sb.home, ".config/agent-profiles/config.ini")) },
    before,
  );
  // doctor names the version and what it supports.
  const doc = JSON.parse((await profiles(["doctor", "--json"])).stdout) as { checks: { id: string; message: string }[] };
  assert.match(doc.checks.find((c) => c.id === "bus")!.message, new RegExp(`systemd ${release} .*crash-loop flags --start-limit-burst, --start-limit-interval, --restart-sec, --no-restart-on-exit; not --restart-steps \\(needs 254\\), --restart-max-delay \\(needs 254\\)`));
});

test("init writes the policy into the template for every profile, keeps it on a rerun, and \"\" gives the template's default back", async () => {
  const template = path.join(unitDir(), "agent-gateway@.service");
  const r = await profiles(["init", "--start-limit-burst", "3", "--start-limit-interval", "30", "--no-restart-on-exit", "1,78"]);
  assert.equal(r.code, 0, r.stderr);
  let text = (await readOrNull(template))!;
  assert.match(text, /^StartLimitIntervalSec=30s$/m);
  assert.match(text, /^StartLimitBurst=3$/m);
  assert.match(text, /^RestartPreventExitStatus=1 78$/m);
  // A profile without limits of its own has them from the manager.
  await addExiting("plain", 1);
  assert.deepEqual(await showUnit(sb, "agent-gateway@plain.service", ["StartLimitBurst", "StartLimitIntervalUSec"]), { StartLimitBurst: "3", StartLimitIntervalUSec: "30s" });
  assert.equal((await profiles(["init"])).code, 0);
  assert.match((await readOrNull(template))!, /^StartLimitBurst=3$/m);
  assert.equal((await profiles(["init", "--start-limit-burst", "", "--start-limit-interval", "", "--no-restart-on-exit", ""])).code, 0);
  text = (await readOrNull(template))!;
  assert.match(text, /^StartLimitBurst=5$/m);
  assert.match(text, /^RestartPreventExitStatus=78$/m);
  const bad = await profiles(["init", "--start-limit-burst", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--start-limit-burst "0" must be a whole number 1-1000/);
});

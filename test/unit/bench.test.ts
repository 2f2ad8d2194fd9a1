import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { summarize } from "../helpers/stats.js";
import { Registry } from "../../bench/series.js";
import { judge, markUnmeasured, TARGETS } from "../../bench/targets.js";
import { choosePhases } from "../../bench/phases/index.js";
import { renderReport } from "../../bench/report.js";
import { bash, CURL_SWEEP, FLEET_SSH, ROLL_LOOP } from "../../bench/shell.js";

/** The report of `r` on a made-up machine, 10 rounds (20 quick). */
function render(r: Registry): string {
  return renderReport({
    machine: { cpus: 2, cpuModel: "cpu", memoryGiB: 24, kernel: "Linux", os: "Debian", node: "v20", systemd: "systemd 252", pm2: "7" },
    registry: r,
    rounds: { warmup: 1, counted: 10 },
    quick: { warmup: 1, counted: 20 },
    startedAt: new Date(0),
    durationMs: 1000,
    commit: "abc",
  });
}

test("bench stats: median of odd and even counts, min, max; none for no samples", () => {
  assert.deepEqual(summarize([5, 1, 3]), { n: 3, median: 3, min: 1, max: 5 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { n: 4, median: 2.5, min: 1, max: 4 });
  assert.equal(summarize([]), null);
});

test("bench targets: a ratio of medians against its bound, and a missing series gives no verdict", () => {
  const r = new Registry();
  r.series("list.profiles", "list").ms.push(90, 100, 110);
  r.series("list.pm2", "jlist").ms.push(200, 210, 190);
  const listTarget = TARGETS.find((t) => t.subject === "list.profiles" && t.compare?.series === "list.pm2")!;
  const v = judge(listTarget, r);
  assert.equal(v.ratio, 0.5);
  assert.equal(v.met, true);
  r.get("list.profiles").ms.push(500, 600, 700, 800);
  assert.equal(judge(listTarget, r).met, false);

  r.series("roll.batch1", "roll").missing = "not measured: `profiles roll` not implemented yet";
  r.series("roll.shell", "shell").ms.push(1000);
  const rollTarget = TARGETS.find((t) => t.subject === "roll.batch1" && t.compare?.series === "roll.shell")!;
  const missing = judge(rollTarget, r);
  assert.equal(missing.met, null);
  assert.equal(missing.missing, "not measured: `profiles roll` not implemented yet");
});

test("bench report: a verb not implemented yet is printed as such, never as a figure", () => {
  const r = new Registry();
  for (const t of TARGETS) {
    r.series(t.subject, t.subject);
    if (t.compare) r.series(t.compare.series, t.compare.series);
  }
  for (const s of r.all.values()) {
    s.ms.push(100);
    s.rssMiB.push(40);
  }
  for (const id of ["roll.batch1", "roll.parallel5"]) Object.assign(r.get(id), { ms: [], rssMiB: [], missing: "not measured: `profiles roll` not implemented yet" });
  const text = render(r);
  const rollRows = text.split("\n").filter((l) => l.startsWith("| roll.batch1 |") || l.startsWith("| roll.parallel5 |"));
  assert.ok(rollRows.length >= 2);
  for (const row of rollRows) assert.match(row, /not measured: `profiles roll` not implemented yet/);
});

test("bench report: the CLI's CPU during a roll is a row of its own, in time units, beside the shell loop's", () => {
  const r = new Registry();
  for (const t of TARGETS) {
    r.series(t.subject, t.subject);
    if (t.compare) r.series(t.compare.series, t.compare.series);
  }
  r.get("roll.batch1").cpuMs.push(800, 900, 1000);
  r.get("roll.shell").cpuMs.push(300, 350, 400);
  const row = render(r).split("\n").find((l) => l.startsWith("| CPU (user+sys) of roll.batch1 |"));
  assert.equal(row, "| CPU (user+sys) of roll.batch1 | 900 ms (800 ms–1.00 s) | CPU (user+sys) of roll.shell: 350 ms (300 ms–400 ms) | 2.57× | — (the shell loop's own CPU, with its systemctl and curl processes) | — |");
});

test("bench phases: all by default; a chosen one brings the phases it grows on; an unknown one is refused", () => {
  assert.deepEqual([...choosePhases(undefined)], ["roll", "list", "top", "add", "sweep", "fleet"]);
  assert.deepEqual([...choosePhases("fleet")], ["fleet"]);
  assert.deepEqual(new Set(choosePhases("sweep")), new Set(["sweep", "add", "list", "roll"]));
  assert.throws(() => choosePhases("fleet,nope"), /no phase "nope"/);
});

test("bench report: the fleet rows judged against one host, their time taken apart; rows of a phase not run say so", () => {
  const r = new Registry();
  const put = (id: string, ...ms: number[]): void => void r.series(id, id).ms.push(...ms);
  put("fleet.list1", 300, 320, 310);
  put("fleet.list3", 450, 460, 440);
  put("fleet.ssh-true", 10);
  put("fleet.ssh-list", 250);
  put("fleet.ssh-list3", 400);
  put("fleet.roll1", 2000);
  put("fleet.roll2", 2200);
  put("fleet.ssh-roll1", 1800);
  put("fleet.ssh-roll2", 2100);
  put("fleet.first", 400);
  put("fleet.next", 300);
  put("fleet.ssh-first", 90);
  markUnmeasured(r, "not measured: its phase was not run (--phases fleet)");
  assert.equal(r.get("roll.batch1").missing, "not measured: its phase was not run (--phases fleet)");
  assert.equal(r.get("fleet.list1").missing, null);
  const text = render(r);
  assert.match(text, /\| fleet\.list3 \| 450 ms \(440 ms–460 ms\) \| fleet\.list1: 310 ms \(300 ms–320 ms\) \| 1\.45× \| ≤ 1\.30× \| \*\*no\*\* \|/);
  assert.match(text, /\| fleet\.roll2 \| 2\.20 s .* \| 1\.10× \| ≤ 1\.15× \| yes \|/);
  assert.match(text, /\| roll\.batch1 \| not measured: its phase was not run \(--phases fleet\) \|/);
  assert.match(text, /an ssh session through the master 10 ms \+ the remote `profiles list --json` \(a node process there\) 240 ms \+ the driver's own `profiles` process \(start-up, ssh, merging\) 60 ms/);
  assert.match(text, /opening the connection costs 100 ms \(ssh alone: `ssh HOST true` 90 ms with a new connection, 10 ms through a master\)/);
  assert.match(text, /By hand \(ssh to each host at once, no `profiles` on this side\) the same takes 1\.60× of one host \(400 ms vs 250 ms\): every host of this bench is this machine/);
});

test("bench shell loops: the roll loop restarts in batches and polls each port; the fleet loop runs ssh to each host and fails with any; the curl loop counts failures", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bench-shell-"));
  try {
    const calls = path.join(dir, "calls");
    // Stand-ins for systemctl and curl that record how they were called; port 2 fails once, port 9 always.
    await fs.writeFile(path.join(dir, "systemctl"), `#!/bin/bash\necho "systemctl $*" >> ${calls}\n`, { mode: 0o755 });
    await fs.writeFile(
      path.join(dir, "curl"),
      `#!/bin/bash\nurl=\${@: -1}; echo "curl $url" >> ${calls}\n` +
        `if [[ $url == *:2/* && ! -e ${dir}/seen2 ]]; then touch ${dir}/seen2; exit 7; fi\n[[ $url != *:9/* ]]\n`,
      { mode: 0o755 },
    );
    const env = { PATH: `${dir}:${process.env.PATH}` };
    const [cmd, ...args] = bash(ROLL_LOOP, ["2", "a:1", "b:2", "c:3"]);
    const roll = spawnSync(cmd!, args, { env, encoding: "utf8" });
    assert.equal(roll.status, 0, roll.stderr);
    assert.deepEqual((await fs.readFile(calls, "utf8")).trim().split("\n"), [
      "systemctl --user restart agent-gateway@a.service agent-gateway@b.service",
      "curl http://127.0.0.1:1/health",
      "curl http://127.0.0.1:2/health",
      "curl http://127.0.0.1:2/health",
      "systemctl --user restart agent-gateway@c.service",
      "curl http://127.0.0.1:3/health",
    ]);
    await fs.writeFile(path.join(dir, "ssh"), `#!/bin/bash\necho "ssh $*" >> ${calls}\n[[ \${@: -2:1} != bad ]]\n`, { mode: 0o755 });
    await fs.rm(calls);
    const [c3, ...a3] = bash(FLEET_SSH, ["/cfg", "/ctl", "profiles list --json", "a", "b"]);
    const fleet = spawnSync(c3!, a3, { env, encoding: "utf8" });
    assert.equal(fleet.status, 0, fleet.stderr);
    const opts = "-F /cfg -o BatchMode=yes -o ConnectTimeout=10 -o ControlMaster=auto -o ControlPath=/ctl/%C -o ControlPersist=300";
    assert.deepEqual((await fs.readFile(calls, "utf8")).trim().split("\n").sort(), [`ssh ${opts} a profiles list --json`, `ssh ${opts} b profiles list --json`]);
    const [c4, ...a4] = bash(FLEET_SSH, ["/cfg", "/ctl", "true", "a", "bad"]);
    assert.equal(spawnSync(c4!, a4, { env, encoding: "utf8" }).status, 1);
    const [c2, ...a2] = bash(CURL_SWEEP, ["1", "9", "3"]);
    const sweep = spawnSync(c2!, a2, { env, encoding: "utf8" });
    assert.equal(sweep.status, 1);
    assert.match(sweep.stdout, /3 checked, 1 unhealthy/);
    assert.match(sweep.stderr, /port 9: unhealthy/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

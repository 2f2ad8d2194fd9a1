import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { portHolder, type PortClaim } from "../../src/core/port-owner.js";
import { ProcProcessInspector } from "../../src/processes/inspector.js";
import { FakePorts, FakeProcs, fakeControlGroup } from "../helpers/fakes.js";

const UNIT = "agent-gateway@liam.service";
const CG = "/user.slice/user-1000.slice/user@1000.service/app.slice/app-agent\\x2dgateway.slice/agent-gateway@liam.service";

test("inCgroup: the manager's ControlGroup or a cgroup below it, in either hierarchy; a same-named unit elsewhere is not it", async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), "cgroup-test-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const procs: Record<string, string> = {
    "10": `0::${CG}\n`,
    "11": `9:name=systemd:${CG}/sub\n4:memory:/x\n0::/\n`,
    "12": `0::${CG.replace("user-1000", "user-1001").replace("user@1000", "user@1001")}\n`,
    "13": `0::${CG}-other.service\n`,
  };
  for (const [pid, text] of Object.entries(procs)) {
    await mkdir(path.join(root, pid));
    await writeFile(path.join(root, pid, "cgroup"), text);
  }
  const inspector = new ProcProcessInspector(root);
  const answers = await Promise.all([10, 11, 12, 13, 14].map((pid) => inspector.inCgroup(pid, CG)));
  assert.deepEqual(answers, [true, true, false, false, false]);
  assert.equal(await inspector.inCgroup(10, ""), false, "a unit that runs nothing holds nothing");
});

test("portHolder: the main PID or a process in the unit's cgroup is its own; any other listener makes the port foreign", async () => {
  const ports = new FakePorts();
  const procs = new FakeProcs();
  let asked = 0;
  const claim = (mainPid: number | null): PortClaim => ({ unit: UNIT, mainPid, controlGroup: async () => (asked++, fakeControlGroup(UNIT)) });
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(100)), { status: "free" });
  ports.listeners.set(8600, { port: 8600, pid: 100, command: "node" });
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(100)), { status: "own", pid: 100 });
  assert.equal(asked, 0, "the main PID needs no cgroup");
  // A wrapper's child listens: its cgroup is the unit's.
  ports.listeners.set(8600, { port: 8600, pid: 101, command: "gateway" });
  procs.cgroups.set(101, UNIT);
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(100)), { status: "own", pid: 101 });
  assert.equal(asked, 1);
  ports.listeners.set(8600, { port: 8600, pid: 4242, command: "python3" });
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(100)), { status: "foreign", pid: 4242, holder: "process 4242 (python3)" });
  ports.listeners.set(8600, { port: 8600 });
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(100)), { status: "foreign", pid: null, holder: "another process (not visible to this user)" });
  // The unit's own socket beside another's (two addresses, or SO_REUSEPORT): a probe may reach either.
  ports.holders = async (port) => [{ port, pid: 100, command: "node" }, { port, pid: 4242, command: "python3" }];
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(100)), { status: "foreign", pid: 4242, holder: "process 4242 (python3)" });
  // A stopped unit (no main PID) owns nothing its cgroup does not hold.
  assert.deepEqual(await portHolder(ports, procs, 8600, claim(null)), { status: "foreign", pid: 100, holder: "process 100 (node)" });
});

test("startedAtMs: when this very process started, from /proc, within a second of what node says", async () => {
  const inspector = new ProcProcessInspector();
  const nodeSays = Date.now() - process.uptime() * 1000;
  for (const pid of [process.pid, process.pid]) {
    const started = await inspector.startedAtMs(pid);
    assert.ok(started !== null && Math.abs(started - nodeSays) < 1000, `${started} against ${nodeSays}`);
  }
  assert.equal(await inspector.startedAtMs(2 ** 22 + 1), null, "no such process");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cgroupPids, processInfo } from "../../src/processes/cgroup.js";

test("cgroupPids: the unit's cgroup in whichever hierarchy holds it, sub-cgroups included", async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "ap-cg-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const cg = "/user.slice/user-1000.slice/user@1000.service/app.slice/agent-gateway@liam.service";
  await fs.mkdir(path.join(root, "unified", cg, "worker"), { recursive: true });
  await fs.writeFile(path.join(root, "unified", cg, "cgroup.procs"), "42\n7\n");
  await fs.writeFile(path.join(root, "unified", cg, "worker", "cgroup.procs"), "99\n42\n");
  assert.deepEqual(await cgroupPids(cg, root), [7, 42, 99]);
  assert.deepEqual(await cgroupPids("", root), []);
  assert.deepEqual(await cgroupPids("/nowhere", root), []);
});

test("processInfo: parent, session, memory and command line from /proc", async (t) => {
  const proc = await fs.mkdtemp(path.join(os.tmpdir(), "ap-proc-"));
  t.after(() => fs.rm(proc, { recursive: true, force: true }));
  await fs.mkdir(path.join(proc, "42"));
  // The command name may hold spaces and parentheses.
  await fs.writeFile(path.join(proc, "42", "stat"), "42 (node (x) y) S 41 42 40 0 -1 4194560");
  await fs.writeFile(path.join(proc, "42", "statm"), "1000 256 10 1 0 50 0");
  await fs.writeFile(path.join(proc, "42", "cmdline"), "node\0gw.js\0--port\x008600\0");
  assert.deepEqual(await processInfo(42, proc), { pid: 42, ppid: 41, sid: 40, rssBytes: 256 * 4096, command: "node gw.js --port 8600" });
  assert.equal(await processInfo(43, proc), null);
  const self = await processInfo(process.pid);
  assert.equal(self?.ppid, process.ppid);
});

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";

// Ports of this file only: 19160-19179.
const RANGE = "19160-19179";

let sb: Sandbox;
const profiles = (args: string[], timeoutMs = 60_000) => sb.profiles(args, { timeoutMs });

before(async () => {
  sb = await startSandbox();
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal((await profiles(["add", "lim"])).code, 0);
});
after(async () => {
  await sb?.stop();
});

/** The controllers root delegated to this user manager, read as the user from its cgroup's cgroup.controllers. */
async function delegated(): Promise<Set<string>> {
  // cgroup v2: the root itself, or unified/ on a hybrid host (v1 controllers are never delegated to a user manager).
  const r = await sb.exec("sh", ["-c", 'cg=$(systemctl --user show --property=ControlGroup --value); cat "/sys/fs/cgroup$cg/cgroup.controllers" 2>/dev/null || cat "/sys/fs/cgroup/unified$cg/cgroup.controllers"']);
  assert.equal(r.code, 0, r.stderr);
  return new Set(r.stdout.split(/\s+/).filter(Boolean));
}

test("limits and doctor name each limit whose cgroup controller the user manager lacks, and only those", async () => {
  const has = await delegated();
  console.log(`# limits-bite: this user manager has the controllers: ${[...has].join(" ") || "none"}`);
  const want = [["MemoryMax", "memory"], ["CPUQuota", "cpu"], ["TasksMax", "pids"]].filter(([, c]) => !has.has(c!)).map(([l]) => l);

  const r = await profiles(["limits", "lim", "--memory-max", "20M", "--cpu-quota", "50%", "--tasks-max", "64", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { notEnforced: { limit: string; controller: string; why: string }[] };
  assert.deepEqual(out.notEnforced.map((n) => n.limit), want);
  for (const n of out.notEnforced) assert.match(n.why, new RegExp(`the user manager has no ${n.controller} controller`));
  const text = (await profiles(["limits", "lim"])).stdout;
  for (const l of want) assert.match(text, new RegExp(`^NOT ENFORCED: ${l}: `, "m"));
  if (want.length > 0) assert.match(text, /Delegate=cpu cpuset io memory pids/);
  else assert.doesNotMatch(text, /NOT ENFORCED/);

  const doc = JSON.parse((await profiles(["doctor", "--json"])).stdout) as { checks: { id: string; status: string; problems: { message: string }[] }[] };
  const c = doc.checks.find((x) => x.id === "limits")!;
  assert.equal(c.status, want.length > 0 ? "problem" : "ok");
  assert.deepEqual(c.problems.map((p) => /^lim: (\w+)=/.exec(p.message)?.[1]), want);

  // The unit's own accounting agrees: with MemoryMax set, MemoryCurrent is unset exactly when memory is missing.
  const mem = await sb.exec("systemctl", ["--user", "show", "agent-gateway@lim.service", "--property=MemoryCurrent", "--property=MemoryMax"]);
  console.log(`# limits-bite: ${mem.stdout.trim().replace(/\n/g, ", ")}`);
  assert.equal(/MemoryCurrent=\[not set\]/.test(mem.stdout), want.includes("MemoryMax"), mem.stdout);

  // Limits taken away: nothing left to enforce.
  assert.equal((await profiles(["limits", "lim", "--reset"])).code, 0);
  const after = JSON.parse((await profiles(["limits", "lim", "--json"])).stdout) as { notEnforced: unknown[] };
  assert.deepEqual(after.notEnforced, []);
});

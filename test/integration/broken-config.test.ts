import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { showUnit, waitForUnit } from "../helpers/unit-props.js";

// Ports of this file only: 19140-19159.
const RANGE = "19140-19159";

let sb: Sandbox;
const profiles = (args: string[], timeoutMs = 60_000) => sb.profiles(args, { timeoutMs });
const envPath = (name: string) => path.join(sb.home, ".config/agent-profiles/profiles", name, ".env");

interface Verdict { name: string; healthy: boolean; condition: string; problems: string[]; brokenConfig: { current: number | null; knownGood: number } | null; action?: { kind: string; ok?: boolean; reason?: string } | null }

before(async () => {
  sb = await startSandbox();
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"]);
  assert.equal(init.code, 0, init.stderr);
  for (const n of ["bro", "fine"]) {
    const r = await profiles(["add", n]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await sb?.stop();
});

/** Break `name` by its .env: the reference gateway refuses a non-loopback HOST without API_KEY (exit 78, not restarted). */
async function breakIt(name: string): Promise<string> {
  const good = await fs.readFile(envPath(name), "utf8");
  const r = await profiles(["set", name, "HOST=0.0.0.0", "--restart", "--wait", "5"]);
  assert.equal(r.code, 7, r.stdout + r.stderr);
  await waitForUnit(sb, `agent-gateway@${name}.service`, ["ActiveState"], (p) => p.ActiveState === "failed");
  return good;
}

test("a profile broken by `set`: every hint points to diff and rollback; the sweep does not restart it; --rollback-broken rolls it back through the gate", async () => {
  const good = await breakIt("bro");
  const hint = /differs from known-good generation 1: see the change with `profiles diff bro 1`, put it back with `profiles rollback bro`/;

  // health
  const h = await profiles(["health", "--json"]);
  assert.equal(h.code, 7);
  const v = (JSON.parse(h.stdout) as Verdict[]).find((x) => x.name === "bro")!;
  assert.deepEqual(v.brokenConfig && { current: v.brokenConfig.current, knownGood: v.brokenConfig.knownGood }, { current: 2, knownGood: 1 });
  assert.match(v.problems.join("\n"), hint);
  const ht = (await profiles(["health"])).stdout;
  assert.match(ht, /next: profiles diff NAME, then profiles rollback NAME for bro/);
  assert.doesNotMatch(ht, /sweep --restart-unhealthy/);
  // status
  assert.match((await profiles(["status", "bro"])).stdout, new RegExp(`next: its \\.env \\(generation 2\\) ${hint.source}`));
  // doctor
  const doc = JSON.parse((await profiles(["doctor", "--json"])).stdout) as { checks: { id: string; problems: { message: string; fix: string }[] }[] };
  const units = doc.checks.find((c) => c.id === "units")!;
  assert.deepEqual(units.problems.map((p) => p.fix), ["profiles rollback bro"]);
  assert.match(units.problems[0]!.message, hint);
  // a failed start says so too
  const st = await profiles(["start", "bro", "--wait", "5"]);
  assert.equal(st.code, 7);
  assert.match(st.stdout, hint);
  await waitForUnit(sb, "agent-gateway@bro.service", ["ActiveState"], (p) => p.ActiveState === "failed");

  // The sweep reports it and leaves it: no start (the invocation stays the same).
  const before = await showUnit(sb, "agent-gateway@bro.service", ["InvocationID", "ActiveState"]);
  const sw = await profiles(["sweep", "--restart-unhealthy", "--json"]);
  assert.equal(sw.code, 7, sw.stderr);
  const out = JSON.parse(sw.stdout) as { restartAttempts: number; profiles: Verdict[] };
  const sb1 = out.profiles.find((p) => p.name === "bro")!;
  assert.equal(sb1.action?.kind, "skipped");
  assert.match(sb1.action!.reason!, /a restart would fail the same way: .*profiles rollback bro.*--rollback-broken/);
  assert.equal(out.restartAttempts, 0);
  assert.deepEqual(await showUnit(sb, "agent-gateway@bro.service", ["InvocationID", "ActiveState"]), before);
  assert.match((await profiles(["sweep", "--restart-unhealthy"])).stdout, /bro: not restarted: a restart would fail the same way/);

  // --rollback-broken: rolled back to generation 1's bytes, healthy, within the budget.
  const rb = await profiles(["sweep", "--restart-unhealthy", "--rollback-broken", "--json"]);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  const out2 = JSON.parse(rb.stdout) as { restartAttempts: number; profiles: Verdict[] };
  const p = out2.profiles.find((x) => x.name === "bro")!;
  assert.deepEqual([p.action?.kind, p.action?.ok, p.healthy, out2.restartAttempts], ["rollback", true, true, 1]);
  assert.equal(await fs.readFile(envPath("bro"), "utf8"), good);
  assert.match((await profiles(["history", "bro"])).stdout, /rollback to 1/);
});

test("--max-restarts 0 leaves a broken profile even with --rollback-broken; init --sweep-rollback-broken makes it the sweep's default", async () => {
  const good = await breakIt("bro");
  const none = JSON.parse((await profiles(["sweep", "--restart-unhealthy", "--rollback-broken", "--max-restarts", "0", "--json"])).stdout) as { profiles: Verdict[] };
  assert.deepEqual(none.profiles.find((x) => x.name === "bro")!.action, { kind: "skipped", reason: "--max-restarts 0 reached" });

  const init = await profiles(["init", "--sweep-rollback-broken", "--json"]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal((JSON.parse(init.stdout) as { sweep: { rollbackBroken: boolean } }).sweep.rollbackBroken, true);
  const sw = await profiles(["sweep", "--restart-unhealthy", "--json"]);
  assert.equal(sw.code, 0, sw.stdout + sw.stderr);
  assert.equal((JSON.parse(sw.stdout) as { profiles: Verdict[] }).profiles.find((x) => x.name === "bro")!.action?.kind, "rollback");
  assert.equal(await fs.readFile(envPath("bro"), "utf8"), good);
  // A profile merely stopped by hand is no broken config: no hint, and the sweep starts it as before.
  assert.equal((await profiles(["stop", "fine"])).code, 0);
  const [f] = JSON.parse((await profiles(["health", "fine", "--json"])).stdout) as Verdict[];
  assert.equal(f!.brokenConfig, null);
});

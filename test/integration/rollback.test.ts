import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// This file's share of 18720-18739 (env-values.test.ts has 18720-18724).
const RANGE = "18725-18739";
const SECRET = "rb-secret-9f8e7d";

let sb: Sandbox;
// Ports come from the range as `add` allocates them, so that a busy port there only shifts them.
let port = 0;

interface Gen {
  number: number;
  reason: string;
  changed: string[];
  knownGood: boolean;
  current: boolean;
}

async function profiles(args: string[]) {
  return sb.profiles(args, { timeoutMs: 90_000 });
}

/** Run a command that must succeed; returns its parsed --json output. */
async function ok<T>(args: string[]): Promise<T> {
  const r = await profiles([...args, "--json"]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `the secret leaked from ${args.join(" ")}`);
  return JSON.parse(r.stdout) as T;
}

async function health(port: number): Promise<{ status: number; pid: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, pid: ((await res.json()) as { pid: number }).pid };
}

/** A port of the range that nothing listens on and no profile records, for moving a profile. */
async function freePort(recorded: number[]): Promise<number> {
  for (let p = 18725; p <= 18739; p++) {
    if (recorded.includes(p)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer().once("error", () => resolve(false));
      srv.listen(p, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return p;
  }
  throw new Error(`no free port left in ${RANGE}`);
}

async function env(name: string): Promise<Record<string, string>> {
  return (await ok<{ variables: Record<string, string> }>(["env", name])).variables;
}

async function generations(name: string): Promise<Gen[]> {
  return (await ok<{ generations: Gen[] }>(["history", name])).generations;
}

before(async () => {
  sb = await startSandbox();
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs")]);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  await sb?.stop();
});

test("set --restart makes known-good generations that history lists, newest first", async () => {
  port = (await ok<{ port: number }>(["add", "rb", "--env", "LOG_LEVEL=info"])).port;
  const set = await ok<{ generation: number; restarted: boolean; healthy: boolean }>(["set", "rb", "LOG_LEVEL=debug", `API_KEY=${SECRET}`, "--restart"]);
  assert.deepEqual([set.generation, set.restarted, set.healthy], [2, true, true]);
  await ok(["set", "rb", "EXTRA=three", "--restart"]);
  assert.deepEqual(
    (await generations("rb")).map((g) => [g.number, g.reason, g.changed, g.knownGood, g.current]),
    [
      [3, "set EXTRA", ["EXTRA"], true, true],
      [2, "set LOG_LEVEL, API_KEY", ["API_KEY", "LOG_LEVEL"], true, false],
      [1, "add", ["LOG_LEVEL", "PORT"], true, false],
    ],
  );
  const text = await profiles(["history", "rb"]);
  assert.match(text.stdout, /^3\* .* yes +set EXTRA +EXTRA$/m);
  const d = await profiles(["diff", "rb", "1"]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout, 'rb: generation 1 → the .env (generation 3)\n~ LOG_LEVEL: "info" → "debug"\n+ API_KEY=******** (secret)\n+ EXTRA="three"\n');
});

test("rollback to the previous generation, to an older one with --to, and a rollback of a rollback", async () => {
  const pid = (await health(port)).pid;
  const back = await ok<{ from: number; to: number; generation: number; healthy: boolean }>(["rollback", "rb"]);
  assert.deepEqual([back.from, back.to, back.generation, back.healthy], [3, 2, 4, true]);
  assert.equal((await env("rb")).EXTRA, undefined);
  const h = await health(port);
  assert.equal(h.status, 200);
  assert.notEqual(h.pid, pid, "restarted");

  const older = await ok<{ to: number; generation: number }>(["rollback", "rb", "--to", "1"]);
  assert.deepEqual([older.to, older.generation], [1, 5]);
  assert.deepEqual(await env("rb"), { PORT: String(port), LOG_LEVEL: "info" });
  assert.equal((await health(port)).status, 200);

  // Rolling back the rollback returns to what was current before it (generation 4, itself a restore of 2).
  const undo = await ok<{ to: number; generation: number }>(["rollback", "rb"]);
  assert.deepEqual([undo.to, undo.generation], [4, 6]);
  assert.deepEqual(await env("rb"), { PORT: String(port), LOG_LEVEL: "debug", API_KEY: "********" });
  assert.deepEqual(
    (await generations("rb")).slice(0, 3).map((g) => [g.number, g.reason, g.knownGood, g.current]),
    [[6, "rollback to 4", true, true], [5, "rollback to 1", true, false], [4, "rollback to 2", true, false]],
  );
});

test("a profile broken by set --restart exits 7; rollback brings it back healthy", async () => {
  // The reference gateway refuses a public HOST without API_KEY (exit 78).
  await ok(["unset", "rb", "API_KEY", "--restart"]);
  const broken = await profiles(["set", "rb", "HOST=0.0.0.0", "--restart", "--wait", "15"]);
  assert.equal(broken.code, 7, broken.stdout + broken.stderr);
  assert.match(broken.stderr, /exited with status 78/);
  assert.match(broken.stderr, /kept as generation 8/);
  assert.match(broken.stderr, /next: run `profiles rollback rb`/);
  await assert.rejects(health(port));
  const st = await profiles(["status", "rb", "--json"]);
  assert.equal(st.code, 7);

  const back = await ok<{ from: number; to: number; generation: number; healthy: boolean }>(["rollback", "rb"]);
  assert.deepEqual([back.from, back.to, back.generation, back.healthy], [8, 7, 9, true]);
  assert.equal((await health(port)).status, 200);
  assert.equal((await env("rb")).HOST, undefined);
  const gens = await generations("rb");
  assert.deepEqual(gens.slice(0, 2).map((g) => [g.number, g.reason, g.knownGood]), [[9, "rollback to 7", true], [8, "set HOST", false]]);
  // The broken generation is still there, to look at or to restore on purpose.
  const d = await profiles(["diff", "rb", "8", "9"]);
  assert.equal(d.stdout, 'rb: generation 8 → generation 9\n- HOST="0.0.0.0"\n');
});

test("a port change goes through add's checks, and rollback moves the profile back", async () => {
  const other = (await ok<{ port: number }>(["add", "other"])).port;
  const taken = await profiles(["set", "rb", `PORT=${other}`, "--restart"]);
  assert.equal(taken.code, 5, taken.stderr);
  assert.match(taken.stderr, new RegExp(`port ${other} is taken by profile "other"`));
  const moved = await freePort([port, other]);
  await ok(["set", "rb", `PORT=${moved}`, "--restart"]);
  assert.equal((await health(moved)).status, 200);
  await assert.rejects(health(port));
  await ok(["rollback", "rb"]);
  assert.equal((await health(port)).status, 200);
  await assert.rejects(health(moved));
});

test("bad rollback requests: exit code and hint, nothing changed", async () => {
  const dirs = [path.join(sb.home, ".config"), path.join(sb.home, ".local/state/agent-profiles/generations")];
  const before = await Promise.all(dirs.map(snapshot));
  const cases: [string[], number, RegExp, RegExp][] = [
    [["rollback", "rb", "--to", "99"], 2, /no generation 99 \(kept: .*\)/, /next: run `profiles history rb`/],
    [["rollback", "rb", "--to", "x"], 2, /--to "x" must be a generation number/, /next: run `profiles history rb`/],
    [["rollback", "nosuch"], 3, /"nosuch" does not exist/, /next: run `profiles list`/],
    [["rollback", "other"], 1, /no known-good generation older than generation 1/, /next: run `profiles history other`, then `profiles rollback other --to GEN`/],
    [["diff", "rb", "99"], 2, /no generation 99/, /next: run `profiles history rb`/],
  ];
  for (const [args, code, message, hint] of cases) {
    const r = await profiles(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, hint);
  }
  assert.deepEqual(await Promise.all(dirs.map(snapshot)), before);
});

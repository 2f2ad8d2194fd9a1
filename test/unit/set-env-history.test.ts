import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import add from "../../src/commands/add.js";
import diff from "../../src/commands/diff.js";
import env from "../../src/commands/env.js";
import history from "../../src/commands/history.js";
import set from "../../src/commands/set.js";
import unset from "../../src/commands/unset.js";
import type { CommandResult } from "../../src/commands/command.js";
import { isSecretKey, MASK, maskEntries, maskValue } from "../../src/secrets.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { parseEnv } from "../../src/store/envfile.js";
import { history as readHistory } from "../../src/store/generations.js";
import { fails } from "../helpers/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const SECRET = "sup3r-s3cret-value";

/** Everything a command printed, for "the secret appears nowhere" checks. */
function printed(r: CommandResult): string {
  return JSON.stringify(r.data) + "\n" + r.text;
}

async function world() {
  const w = await fakeWorld({ portRange: { from: 9400, to: 9420 } });
  await add.run({ ...g, name: "liam", start: true, wait: 5, env: ["LOG_LEVEL=info", `API_KEY=${SECRET}`] }, w.ctx);
  const read = async () => parseEnv(await fs.readFile(envFile(w.ctx.paths, "liam"), "utf8")).entries;
  return { ...w, read };
}

const setArgs = (pairs: string[], extra: Record<string, unknown> = {}) => ({ ...g, name: "liam", pairs, restart: false, wait: 5, ...extra });
const unsetArgs = (keys: string[], extra: Record<string, unknown> = {}) => ({ ...g, name: "liam", keys, restart: false, wait: 5, ...extra });

test("secrets: which keys, and how values are masked", () => {
  for (const k of ["API_KEY", "api_key", "KEYRING", "GITHUB_TOKEN", "client_secret", "DB_PASSWORD", "Password", "PASS", "DB_PASSWD", "MYSQL_PWD"]) assert.ok(isSecretKey(k), k);
  for (const k of ["PORT", "HOST", "LOG_LEVEL", "TOKE", "GREETING"]) assert.ok(!isSecretKey(k), k);
  assert.equal(maskValue("API_KEY", "abc"), MASK);
  assert.equal(maskValue("API_KEY", "a much longer value"), MASK, "the mask does not show the length");
  assert.equal(maskValue("API_KEY", ""), "");
  assert.equal(maskValue("HOST", "0.0.0.0"), "0.0.0.0");
  assert.deepEqual([...maskEntries(new Map([["PORT", "1"], ["X_TOKEN", "t"]]))], [["PORT", "1"], ["X_TOKEN", MASK]]);
});

test("env: values as systemd reads them, secrets masked unless --show-secrets", async () => {
  const w = await world();
  try {
    const r = await env.run({ ...g, name: "liam", showSecrets: false }, w.ctx);
    assert.deepEqual((r.data as { variables: object }).variables, { PORT: "9400", LOG_LEVEL: "info", API_KEY: MASK });
    assert.deepEqual((r.data as { hidden: string[] }).hidden, ["API_KEY"]);
    assert.ok(!printed(r).includes(SECRET));
    assert.match(r.text, /^PORT="9400"\nLOG_LEVEL="info"\nAPI_KEY=\*{8}\n# hidden: API_KEY/);
    const shown = await env.run({ ...g, name: "liam", showSecrets: true }, w.ctx);
    assert.equal((shown.data as { variables: Record<string, string> }).variables.API_KEY, SECRET);
    assert.match(shown.text, new RegExp(`API_KEY="${SECRET}"`));
    // A file broken by hand: what systemd keeps, and what it drops.
    await fs.writeFile(envFile(w.ctx.paths, "liam"), "PORT=9400\nno equals here\nA='x' # kept as is\n");
    const broken = await env.run({ ...g, name: "liam", showSecrets: false }, w.ctx);
    assert.deepEqual((broken.data as { variables: object }).variables, { PORT: "9400", A: "x# kept as is" });
    assert.match(broken.text, /# line 2: the line has no "="/);
    assert.doesNotMatch(broken.text, /no equals here/);
    await assert.rejects(env.run({ ...g, name: "nope", showSecrets: false }, w.ctx), fails(ExitCode.notFound));
    await assert.rejects(env.run({ ...g, name: "../x", showSecrets: false }, w.ctx), fails(ExitCode.usage));
  } finally {
    await w.cleanup();
  }
});

test("set: a new generation named after the keys; values exact; the next restart applies it", async () => {
  const w = await world();
  try {
    const calls = w.systemd.calls.length;
    const r = await set.run(setArgs(["LOG_LEVEL=debug", "NEW=a b=c", `API_KEY=${SECRET}-2`]), w.ctx);
    assert.deepEqual(r.data, { name: "liam", changed: ["LOG_LEVEL", "NEW", "API_KEY"], generation: 2, restarted: false, healthy: null, pid: null, elapsedMs: 0, knownGood: null });
    assert.match(r.text, /^set LOG_LEVEL, NEW, API_KEY on liam \(generation 2\); takes effect when it next restarts: `profiles restart liam`/);
    assert.ok(!printed(r).includes(SECRET));
    assert.deepEqual([...(await w.read())], [["PORT", "9400"], ["LOG_LEVEL", "debug"], ["API_KEY", `${SECRET}-2`], ["NEW", "a b=c"]]);
    assert.equal(w.systemd.calls.length, calls, "no restart without --restart");
    const h = await readHistory(w.ctx.paths, "liam");
    assert.deepEqual(h.generations.map((x) => [x.number, x.reason, x.knownGood]), [[1, "add", true], [2, "set LOG_LEVEL, NEW, API_KEY", false]]);
    assert.equal((await fs.stat(envFile(w.ctx.paths, "liam"))).mode & 0o777, 0o600);
  } finally {
    await w.cleanup();
  }
});

test("set: the same values again is no change and writes nothing; --restart still restarts", async () => {
  const w = await world();
  try {
    const before = await snapshot(w.home);
    const r = await set.run(setArgs(["LOG_LEVEL=info", "PORT=9400"]), w.ctx);
    assert.equal((r.data as { generation: number | null }).generation, null);
    assert.match(r.text, /no change .* nothing written/);
    assert.deepEqual(await snapshot(w.home), before);
    const again = await set.run(setArgs(["LOG_LEVEL=info"], { restart: true }), w.ctx);
    assert.equal((again.data as { restarted: boolean }).restarted, true);
    assert.ok(w.systemd.calls.includes("restart agent-gateway@liam.service"));
    assert.equal((await readHistory(w.ctx.paths, "liam")).generations.length, 1);
  } finally {
    await w.cleanup();
  }
});

test("set/unset: every bad input has its exit code and writes nothing", async () => {
  const w = await world();
  try {
    await add.run({ ...g, name: "other", start: true, wait: 5 }, w.ctx);
    w.ports.listeners.set(9410, { port: 9410, pid: 4242, command: "python3" });
    const before = await snapshot(w.home);
    const calls = w.systemd.calls.length;
    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [() => set.run(setArgs(["A=1\n2"]), w.ctx), ExitCode.usage, /A contains a line break/],
      [() => set.run(setArgs(["A=1\r"]), w.ctx), ExitCode.usage, /line break/],
      [() => set.run(setArgs(["A=\0"]), w.ctx), ExitCode.usage, /NUL/],
      [() => set.run(setArgs(["NOEQUALS"]), w.ctx), ExitCode.usage, /not KEY=VALUE/],
      [() => set.run(setArgs(["=x"]), w.ctx), ExitCode.usage, /not KEY=VALUE/],
      [() => set.run(setArgs(["1A=x"]), w.ctx), ExitCode.usage, /^(?!.*1A).*the key \(before the first "="\) must start with a letter.*not shown/],
      [() => set.run(setArgs(["OK=1", "BAD-KEY=2"]), w.ctx), ExitCode.usage, /^(?!.*BAD-KEY).*must start with a letter/],
      [() => set.run(setArgs(["A=1"], { name: "Liam" }), w.ctx), ExitCode.usage, /invalid profile name/],
      [() => set.run(setArgs(["A=1"], { name: "nope" }), w.ctx), ExitCode.notFound, /"nope" does not exist/],
      [() => set.run(setArgs(["A=1"], { restart: true, wait: 0 }), w.ctx), ExitCode.usage, /--wait/],
      [() => set.run(setArgs(["PORT=80"]), w.ctx), ExitCode.usage, /PORT "80" must be a whole number from 1024/],
      [() => set.run(setArgs(["PORT=abc"]), w.ctx), ExitCode.usage, /PORT "abc"/],
      [() => set.run(setArgs(["PORT=9401", "A=1"]), w.ctx), ExitCode.portTaken, /port 9401 is taken by profile "other"/],
      [() => set.run(setArgs(["PORT=9410"]), w.ctx), ExitCode.portTaken, /process 4242 \(python3\)/],
      [() => unset.run(unsetArgs(["LOG_LEVEL", "NOPE", "ALSO_NOT"]), w.ctx), ExitCode.usage, /has no NOPE, ALSO_NOT; nothing was changed/],
      [() => unset.run(unsetArgs(["PORT"]), w.ctx), ExitCode.usage, /PORT carries the profile's port/],
      [() => unset.run(unsetArgs(["A=s3cr3t"]), w.ctx), ExitCode.usage, /^(?!.*s3cr3t)(?!.*"A).*key 1 holds "=", so it gives a value \(not shown\); unset takes keys alone$/],
      [() => unset.run(unsetArgs(["1A"]), w.ctx), ExitCode.usage, /^(?!.*1A).*key 1 must start with a letter/],
      [() => unset.run(unsetArgs(["LOG_LEVEL"], { name: "nope" }), w.ctx), ExitCode.notFound, /does not exist/],
    ];
    for (const [run, code, message] of cases) await assert.rejects(run(), fails(code, message));
    assert.deepEqual(await snapshot(w.home), before);
    assert.equal(w.systemd.calls.length, calls);
    // The hint for unknown keys says where to look.
    await assert.rejects(unset.run(unsetArgs(["NOPE"]), w.ctx), fails(ExitCode.usage, /NOPE/, /profiles env liam/));
  } finally {
    await w.cleanup();
  }
});

test("set PORT: a free port moves it; keeping its own port, or its own gateway still listening, is no collision", async () => {
  const w = await world();
  try {
    // Its own running gateway listens on 9400: keeping the port checks nothing.
    const mainPid = (await w.systemd.state("agent-gateway@liam.service")).mainPid;
    w.ports.listeners.set(9400, { port: 9400, pid: mainPid, command: "node" });
    assert.equal((await set.run(setArgs(["PORT=9400", "A=1"]), w.ctx)).exitCode, undefined);
    await set.run(setArgs(["PORT=9405"]), w.ctx);
    assert.equal((await w.read()).get("PORT"), "9405");
    // Back to 9400, where its own gateway (not yet restarted) still listens.
    await set.run(setArgs(["PORT=9400"], { restart: true }), w.ctx);
    assert.equal((await w.read()).get("PORT"), "9400");
    assert.equal(w.prober.seen.at(-1)?.port, 9400);
    // Another process of the same user on 9405 is a collision.
    w.ports.listeners.set(9405, { port: 9405, pid: 1, command: "init" });
    await assert.rejects(set.run(setArgs(["PORT=9405"]), w.ctx), fails(ExitCode.portTaken));
  } finally {
    await w.cleanup();
  }
});

test("set --restart: healthy marks the generation known-good; unhealthy exits 7 pointing at rollback", async () => {
  const w = await world();
  try {
    const ok = await set.run(setArgs(["LOG_LEVEL=debug"], { restart: true }), w.ctx);
    assert.match(ok.text, /restarted: healthy \(pid \d+/);
    assert.equal((await readHistory(w.ctx.paths, "liam")).generations.at(-1)?.knownGood, true);
    w.systemd.crashing.add("agent-gateway@liam.service");
    await assert.rejects(
      set.run(setArgs(["HOST=0.0.0.0"], { restart: true }), w.ctx),
      fails(ExitCode.unhealthy, /exited with status 78.*kept as generation 3/, /profiles rollback liam/),
    );
    const h = await readHistory(w.ctx.paths, "liam");
    assert.deepEqual(h.generations.map((x) => [x.number, x.knownGood]), [[1, true], [2, true], [3, false]]);
    assert.equal(h.current, 3);
    // Health answering 500 is unhealthy too.
    w.systemd.crashing.clear();
    w.prober.verdicts.set(9400, { ok: false, reason: "status 500", status: 500, latencyMs: 1 });
    await assert.rejects(set.run(setArgs(["X=1"], { restart: true, wait: 0.3 }), w.ctx), fails(ExitCode.unhealthy, /health status 500/, /rollback/));
  } finally {
    await w.cleanup();
  }
});

test("unset: removes keys as a generation; --restart applies it", async () => {
  const w = await world();
  try {
    const r = await unset.run(unsetArgs(["LOG_LEVEL", "API_KEY"], { restart: true }), w.ctx);
    assert.match(r.text, /^unset LOG_LEVEL, API_KEY on liam \(generation 2\); restarted: healthy/);
    assert.deepEqual([...(await w.read())], [["PORT", "9400"]]);
    const h = await readHistory(w.ctx.paths, "liam");
    assert.deepEqual(h.generations.map((x) => [x.reason, x.changed, x.knownGood]), [["add", ["API_KEY", "LOG_LEVEL", "PORT"], true], ["unset LOG_LEVEL, API_KEY", ["API_KEY", "LOG_LEVEL"], true]]);
  } finally {
    await w.cleanup();
  }
});

test("history: newest first, current and known-good marked; a hand edit is called one", async () => {
  const w = await world();
  try {
    await set.run(setArgs(["LOG_LEVEL=debug"], { restart: true }), w.ctx);
    await set.run(setArgs([`API_KEY=${SECRET}x`]), w.ctx);
    const r = await history.run({ ...g, name: "liam" }, w.ctx);
    const data = r.data as { current: number; editedByHand: boolean; generations: { number: number; reason: string; changed: string[]; knownGood: boolean; current: boolean }[] };
    assert.equal(data.current, 3);
    assert.equal(data.editedByHand, false);
    assert.deepEqual(data.generations.map((x) => [x.number, x.reason, x.changed, x.knownGood, x.current]), [
      [3, "set API_KEY", ["API_KEY"], false, true],
      [2, "set LOG_LEVEL", ["LOG_LEVEL"], true, false],
      [1, "add", ["API_KEY", "LOG_LEVEL", "PORT"], true, false],
    ]);
    const lines = r.text.split("\n");
    assert.match(lines[0]!, /^GEN\s+TIME\s+GOOD\s+REASON\s+CHANGED$/);
    assert.match(lines[1]!, /^3\*\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+no\s+set API_KEY\s+API_KEY$/);
    assert.match(lines[3]!, /^1 .* yes\s+add\s+API_KEY, LOG_LEVEL, PORT$/);
    assert.match(r.text, /\* the .env holds generation 3/);
    assert.ok(!printed(r).includes(SECRET));
    await fs.appendFile(envFile(w.ctx.paths, "liam"), "HAND=1\n");
    const edited = await history.run({ ...g, name: "liam" }, w.ctx);
    assert.equal((edited.data as { editedByHand: boolean }).editedByHand, true);
    assert.match(edited.text, /matches no generation: it was edited by hand after generation 3/);
    assert.doesNotMatch(edited.text, /\d\*/);
    await assert.rejects(history.run({ ...g, name: "nope" }, w.ctx), fails(ExitCode.notFound));
  } finally {
    await w.cleanup();
  }
});

test("diff: defaults, one or two generations, secrets never shown", async () => {
  const w = await world();
  try {
    const only = await diff.run({ ...g, name: "liam" }, w.ctx);
    assert.match(only.text, /generation 1 is the only one kept; nothing older to compare with/);
    await set.run(setArgs(["LOG_LEVEL=debug", "NEW=x y", `API_KEY=${SECRET}-new`]), w.ctx); // 2
    await unset.run(unsetArgs(["NEW"]), w.ctx); // 3
    await set.run(setArgs(["DB_PASSWORD=hunter2hunter2"]), w.ctx); // 4
    const last = await diff.run({ ...g, name: "liam" }, w.ctx);
    assert.equal(last.text, "liam: generation 3 → the .env (generation 4)\n+ DB_PASSWORD=******** (secret)");
    const one = await diff.run({ ...g, name: "liam", from: "1" }, w.ctx);
    assert.equal(one.text, ['liam: generation 1 → the .env (generation 4)', '~ LOG_LEVEL: "info" → "debug"', "~ API_KEY: changed (secret, values hidden)", "+ DB_PASSWORD=******** (secret)"].join("\n"));
    const two = await diff.run({ ...g, name: "liam", from: "1", to: "2" }, w.ctx);
    const data = two.data as { from: { generation: number }; to: { generation: number }; differences: unknown[] };
    assert.equal(data.from.generation, 1);
    assert.equal(data.to.generation, 2);
    assert.deepEqual(data.differences, [
      { key: "LOG_LEVEL", kind: "changed", secret: false, old: "info", new: "debug" },
      { key: "API_KEY", kind: "changed", secret: true, old: null, new: null },
      { key: "NEW", kind: "added", secret: false, old: null, new: "x y" },
    ]);
    const back = await diff.run({ ...g, name: "liam", from: "2", to: "3" }, w.ctx);
    assert.match(back.text, /^- NEW="x y"$/m);
    const same = await diff.run({ ...g, name: "liam", from: "4" }, w.ctx);
    assert.match(same.text, /no differences$/);
    for (const r of [last, one, two, back]) {
      for (const s of [SECRET, "hunter2hunter2"]) assert.ok(!printed(r).includes(s), `${s} in ${r.text}`);
    }
    // A hand edit: the newest generation against the file.
    await fs.appendFile(envFile(w.ctx.paths, "liam"), "HAND=1\n");
    assert.equal((await diff.run({ ...g, name: "liam" }, w.ctx)).text, 'liam: generation 4 → the .env (edited by hand)\n+ HAND="1"');
    const before = await snapshot(w.home);
    await assert.rejects(diff.run({ ...g, name: "liam", from: "9" }, w.ctx), fails(ExitCode.usage, /no generation 9 \(kept: 1, 2, 3, 4\)/, /profiles history liam/));
    await assert.rejects(diff.run({ ...g, name: "liam", from: "1", to: "0" }, w.ctx), fails(ExitCode.usage, /"0" must be a generation number/));
    await assert.rejects(diff.run({ ...g, name: "liam", from: "x" }, w.ctx), fails(ExitCode.usage));
    await assert.rejects(diff.run({ ...g, name: "nope" }, w.ctx), fails(ExitCode.notFound));
    assert.deepEqual(await snapshot(w.home), before);
  } finally {
    await w.cleanup();
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import apply from "../../src/commands/apply.js";
import exportVerb from "../../src/commands/export.js";
import limits from "../../src/commands/limits.js";
import plan from "../../src/commands/plan.js";
import { quoteManifestValue, scanSections } from "../../src/core/manifest/lines.js";
import { ManifestError, parseManifest } from "../../src/core/manifest/parse.js";
import type { ManifestPlan } from "../../src/core/manifest/plan.js";
import type { ApplyResult } from "../../src/core/manifest/apply.js";
import type { ExportResult } from "../../src/core/manifest/export.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { history } from "../../src/store/generations.js";
import { loadRecord } from "../../src/core/roll/record.js";
import { BAD_MANIFESTS as BAD } from "../helpers/bad-manifests.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";
import ini from "ini";

const g = { json: true, verbose: false };
const FILE = "/tmp/no-such-dir/profiles.ini";
const parse = (text: string) => parseManifest(text, FILE, "PORT");

test("manifest parser: every bad input is a ManifestError (exit 2) naming the file and the line", () => {
  for (const [text, line, message] of BAD) {
    assert.throws(
      () => parse(text),
      (err: unknown) => {
        assert.ok(err instanceof ManifestError, `${JSON.stringify(text)}: ${String(err)}`);
        assert.equal(err.exitCode, ExitCode.usage);
        assert.ok(err.message.startsWith(`${FILE}: line ${line}: `), `${JSON.stringify(text)}: ${err.message}`);
        assert.match(err.message, message, JSON.stringify(text));
        return true;
      },
    );
  }
});

test("manifest parser: defaults merged, env keys in order of first mention, env.lower, keep, limits and probe settings", async () => {
  const dir = await fs.mkdtemp("/tmp/ap-manifest-");
  try {
    await fs.writeFile(path.join(dir, "a.env"), 'API_KEY="s3cret-value-1"\nPORT=8611\n');
    const m = parseManifest(
      [
        "; a comment",
        "[defaults]",
        "LOG_LEVEL = info",
        "memory-max = 512m",
        "enabled = no",
        "",
        "[profile a]",
        "env-file = a.env",
        "GREETING = \"hi; there\"",
        "env.http_proxy = http://proxy:3128",
        "LOG_LEVEL = debug   ; trailing comment",
        "probe = tcp",
        "probe-timeout = 5000",
        "restart-sec = 0.5",
        "enabled = yes",
        "keep = OTHER_TOKEN",
        "[profile  b ]",
        "port = 8612",
      ].join("\n"),
      path.join(dir, "profiles.ini"),
      "PORT",
    );
    const [a, b] = m.profiles;
    assert.equal(a!.name, "a");
    assert.equal(a!.port, 8611, "the port variable of an env-file is the port");
    assert.deepEqual([...a!.env], [["LOG_LEVEL", "debug"], ["API_KEY", "s3cret-value-1"], ["GREETING", "hi; there"], ["http_proxy", "http://proxy:3128"]]);
    assert.deepEqual(a!.keep, ["OTHER_TOKEN"]);
    assert.deepEqual(a!.limits, { MemoryMax: "512M", RestartSec: "0.5s" });
    assert.deepEqual(a!.probe, { probe: "tcp", probeTimeoutMs: 5000 });
    assert.equal(a!.enabled, true);
    assert.equal(b!.name, "b");
    assert.equal(b!.port, 8612);
    assert.equal(b!.enabled, false, "[defaults] enabled = no");
    assert.deepEqual([...b!.env], [["LOG_LEVEL", "info"]]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("manifest parser: an env-file systemd would read otherwise is refused at the env-file's line, naming the file's line", async () => {
  const dir = await fs.mkdtemp("/tmp/ap-manifest-");
  try {
    await fs.writeFile(path.join(dir, "bad.env"), "GOOD=1\nno equals sign\n");
    assert.throws(() => parseManifest("[profile a]\n\nenv-file = bad.env\n", path.join(dir, "m.ini"), "PORT"), /m\.ini: line 3: env-file .*bad\.env: line 2: the line has no "="/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("manifest values: what export writes, the ini package reads back exactly", () => {
  const values = ["plain", "", "a;b", "x#y", "a\\;b", "  padded ", '"quoted"', "'single'", "k=v", "[bracket", "tab\there", "bell\x07", "del\x7f", "c1\x85", "é ünï ☃", "back\\slash\\", "$HOME `x`"];
  for (const v of values) {
    const written = quoteManifestValue(v);
    assert.doesNotMatch(written, /[\x00-\x1f\x7f-\x9f]/, `no control character written for ${JSON.stringify(v)}`);
    const scanned = scanSections(`[profile a]\nV = ${written}\n`);
    assert.ok(Array.isArray(scanned));
    assert.equal(scanned[0]!.entries[0]!.value, v, JSON.stringify(v));
    assert.equal(ini.parse(`V = ${written}\n`).V === v || typeof ini.parse(`V = ${written}\n`).V === "boolean", true);
  }
});

const hasCode = (code: number) => (err: unknown) => err instanceof AppError && err.exitCode === code;
const applyArgs = (file: string, over: Record<string, unknown> = {}) => ({ ...g, file, prune: false, yes: true, wait: 5, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, ...over });

async function world() {
  const w = await fakeWorld();
  const file = path.join(w.home, "profiles.ini");
  const write = (text: string) => fs.writeFile(file, text);
  const planOf = async (prune = false) => {
    const r = await plan.run({ ...g, file, prune }, w.ctx);
    return { data: r.data as ManifestPlan, code: r.exitCode ?? 0, text: r.text };
  };
  return { ...w, file, write, planOf };
}

test("plan/apply/export on fakes: add, change keys and limits (one generation each, only the changed restarted), idempotent, prune", async () => {
  const w = await world();
  try {
    const C = "\n[profile c]\nport = 8603\n";
    await w.write(`[profile a]\nport = 8601\nLOG_LEVEL = info\n\n[profile b]\nport = 8602\nAPI_KEY = b-secret-value-123\n${C}`);
    const p1 = await w.planOf();
    assert.equal(p1.code, ExitCode.changesPending);
    assert.deepEqual(p1.data.profiles.map((c) => [c.name, c.action, c.port, c.restart]), [["a", "add", 8601, true], ["b", "add", 8602, true], ["c", "add", 8603, true]]);
    const before = await snapshot(w.home);
    await plan.run({ ...g, file: w.file, prune: true }, w.ctx);
    assert.deepEqual(await snapshot(w.home), before, "plan writes nothing");

    const r1 = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.deepEqual(r1.added.map((a) => [a.name, a.port, a.healthy]), [["a", 8601, true], ["b", 8602, true], ["c", 8603, true]]);
    assert.equal(await fs.readFile(envFile(w.ctx.paths, "a"), "utf8"), '# Written by agent-profiles; edit with `profiles set`, or by hand (systemd EnvironmentFile= syntax).\nPORT="8601"\nLOG_LEVEL="info"\n');
    assert.equal((await w.planOf()).code, 0, "applied: nothing to do");

    const calls = w.systemd.calls.length;
    const again = await apply.run(applyArgs(w.file), w.ctx);
    assert.equal((again.data as ApplyResult).plan.pending, 0);
    assert.deepEqual(w.systemd.calls.slice(calls).filter((c) => !/^(list|unitFileState|runState|properties)/.test(c)), [], "a second apply asks the manager for nothing");

    // One key of a changes: one generation for a, a alone restarted; the secret never shows.
    await w.write(`[profile a]\nport = 8601\nLOG_LEVEL = debug\nmemory-max = 1G\n\n[profile b]\nport = 8602\nAPI_KEY = b-secret-value-456\n${C}`);
    const p2 = await w.planOf();
    assert.equal(p2.code, ExitCode.changesPending);
    assert.doesNotMatch(JSON.stringify(p2.data) + p2.text, /b-secret-value/);
    assert.match(p2.text, /~ API_KEY: changed \(secret, values hidden\)/);
    const gensBefore = { a: (await history(w.ctx.paths, "a")).generations.length, b: (await history(w.ctx.paths, "b")).generations.length };
    const cGens = (await history(w.ctx.paths, "c")).generations.length;
    const callsBefore = w.systemd.calls.length;
    const r2 = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.deepEqual(w.systemd.calls.slice(callsBefore).filter((c) => c.includes("@c.")), [], "c, unchanged, is not touched");
    assert.equal((await history(w.ctx.paths, "c")).generations.length, cGens);
    assert.deepEqual(r2.roll!.profiles.map((p) => [p.name, p.outcome]), [["a", "rolled"], ["b", "rolled"]]);
    assert.equal((await history(w.ctx.paths, "a")).generations.length, gensBefore.a + 1, "one generation for env and limits together");
    assert.equal((await history(w.ctx.paths, "b")).generations.length, gensBefore.b + 1);
    assert.equal((await w.planOf()).code, 0);

    // export → plan: nothing to do; the secret is kept, never written.
    const ex = (await exportVerb.run({ ...g }, w.ctx)).data as ExportResult;
    assert.doesNotMatch(ex.manifest, /b-secret-value/);
    assert.match(ex.manifest, /keep = API_KEY/);
    assert.match(ex.manifest, /memory-max = 1G/);
    await w.write(ex.manifest);
    assert.equal((await w.planOf()).code, 0, (await w.planOf()).text);

    // Prune: b is left alone without --prune, removed with it.
    await w.write("[profile a]\nport = 8601\nLOG_LEVEL = debug\nmemory-max = 1G\n");
    const p3 = await w.planOf();
    assert.equal(p3.code, 0);
    assert.deepEqual(p3.data.unmanaged, ["b", "c"]);
    const p4 = await w.planOf(true);
    assert.equal(p4.code, ExitCode.changesPending);
    const r4 = (await apply.run(applyArgs(w.file, { prune: true }), w.ctx)).data as ApplyResult;
    assert.deepEqual(r4.removed, ["b", "c"]);
    assert.equal((await w.planOf(true)).code, 0);
  } finally {
    await w.cleanup();
  }
});

test("apply stopped by a signal among its changes: the roll it recorded keeps only the profiles it changed", async () => {
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\n\n[profile b]\nport = 8602\nLOG_LEVEL = info\n\n[profile c]\nport = 8603\nLOG_LEVEL = info\n");
    await apply.run(applyArgs(w.file), w.ctx);
    // a's change is first: turned off, its stop waited for; b and c, changed after it, are to be rolled.
    await w.write("[profile a]\nport = 8601\nenabled = false\n\n[profile b]\nport = 8602\nLOG_LEVEL = debug\n\n[profile c]\nport = 8603\nLOG_LEVEL = debug\n");
    const stop = w.systemd.stop.bind(w.systemd);
    w.systemd.stop = async (unit: string) => {
      if (unit !== "agent-gateway@a.service") return stop(unit);
      // Ctrl-C while the stop job runs: deferStopSignals in this process takes it.
      process.kill(process.pid, "SIGINT");
      return new Promise((r) => setTimeout(() => r("done"), 500));
    };
    await assert.rejects(apply.run(applyArgs(w.file), w.ctx), (e: AppError) => e.exitCode === ExitCode.interrupted && /not begun: change b, change c, the roll \(b c\)/.test(e.message));
    assert.equal(await loadRecord(w.ctx.paths), null, "no change to roll was made: no record that would restart b and c unchanged");
    assert.equal((await history(w.ctx.paths, "b")).generations.length, 1);
  } finally {
    await w.cleanup();
  }
});

test("plan: port collisions exit 5 (two in the file, a profile not in it, a foreign listener) and a bad manifest exit 2, nothing written", async () => {
  const w = await world();
  try {
    await add.run({ ...g, name: "old", port: "8605", start: true, wait: 5 }, w.ctx);
    w.ports.listeners.set(8607, { port: 8607, inode: 1, pid: 4242, comm: "python3" } as never);
    const before = await snapshot(w.home);
    const cases: [string, number, RegExp][] = [
      ["[profile a]\nport = 8601\n[profile b]\nport = 8601\n", 5, /port 8601 .*profile "a" as well .*lines 1 and 3/],
      ["[profile a]\nport = 8605\n", 5, /port 8605 is taken by profile "old"/],
      ["[profile a]\nport = 8607\n", 5, /port 8607/],
      ["[profile a]\nport = 8601\nbogus-key = 1\n", 2, /line 3: unknown setting/],
      ["[profile a]\nkeep = API_KEY\n", 2, /keeps API_KEY, but the profile has no API_KEY/],
    ];
    for (const [text, code, message] of cases) {
      await w.write(text);
      await assert.rejects(plan.run({ ...g, file: w.file, prune: false }, w.ctx), (err: unknown) => hasCode(code)(err) && message.test((err as Error).message), text);
      await assert.rejects(apply.run(applyArgs(w.file), w.ctx), hasCode(code), text);
    }
    const after = await snapshot(w.home);
    delete after[w.file];
    delete before[w.file];
    assert.deepEqual(after, before, "nothing written");
  } finally {
    await w.cleanup();
  }
});

test("apply without --yes off a terminal: exit 2, nothing changed; export keeps limits and probe settings that plan reads back", async () => {
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\n");
    await assert.rejects(apply.run(applyArgs(w.file, { yes: false }), w.ctx), hasCode(ExitCode.usage));
    assert.deepEqual(await fs.readdir(w.ctx.paths.profilesDir).catch(() => []), []);
    await add.run({ ...g, name: "c", port: "8609", env: ["GREETING=a;b #c", "proxy=x", "http_proxy=y"], start: true, wait: 5 }, w.ctx);
    await limits.run({ ...g, name: "c", restartSec: "2", cpuQuota: "50" }, w.ctx);
    await fs.writeFile(path.join(w.ctx.paths.profilesDir, "c", "profile.ini"), "[gateway]\nprobe = tcp\nhealth_path = /hz\n");
    const ex = (await exportVerb.run({ ...g }, w.ctx)).data as ExportResult;
    assert.match(ex.manifest, /\nenv\.proxy = x\nhttp_proxy = y\n/);
    assert.match(ex.manifest, /restart-sec = 2\n/);
    await w.write(ex.manifest);
    const p = await w.planOf(true);
    assert.equal(p.code, 0, p.text);
  } finally {
    await w.cleanup();
  }
});

test("the README's manifest example parses as it says", async () => {
  const readme = await fs.readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const block = /```ini\n(; profiles\.ini\n[\s\S]*?)```/.exec(readme)![1]!;
  const dir = await fs.mkdtemp("/tmp/ap-manifest-");
  try {
    await fs.mkdir(path.join(dir, "secrets"));
    await fs.writeFile(path.join(dir, "secrets/liam.env"), "API_SERVER_KEY=k-123456789\n");
    const m = parseManifest(block, path.join(dir, "profiles.ini"), "PORT");
    const [liam, ops, bot] = m.profiles;
    assert.deepEqual([...liam!.env], [["LOG_LEVEL", "info"], ["API_SERVER_HOST", "127.0.0.1"], ["GREETING", "hello; world"], ["API_SERVER_KEY", "k-123456789"]]);
    assert.deepEqual([liam!.port, liam!.limits, liam!.probe], [8642, { MemoryMax: "512M" }, { probe: "http", healthPath: "/health" }]);
    assert.deepEqual([...ops!.env], [["LOG_LEVEL", "debug"], ["region", "eu"]]);
    assert.deepEqual([ops!.port, ops!.enabled, ops!.limits], [null, false, { MemoryMax: "512M", CPUQuota: "50%", RestartSec: "5s" }]);
    assert.deepEqual([bot!.port, bot!.keep], [8644, ["BOT_TOKEN"]]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("enabled = no: apply disables and stops an existing profile (no generation); enabled = yes enables it and the roll starts it", async () => {
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\n");
    await apply.run(applyArgs(w.file), w.ctx);
    const gens = (await history(w.ctx.paths, "a")).generations.length;
    await w.write("[profile a]\nport = 8601\nenabled = no\n");
    const p = await w.planOf();
    assert.deepEqual(p.data.profiles.map((c) => [c.action, c.enabledBefore, c.enabled, c.restart]), [["change", true, false, false]]);
    assert.match(p.text, /enabled: yes → no \(stopped now\)/);
    const calls = w.systemd.calls.length;
    const r = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.equal(r.roll, null);
    assert.deepEqual(w.systemd.calls.slice(calls).filter((c) => /^(enable|disable|stop|start|restart) /.test(c)), ["disable agent-gateway@a.service", "stop agent-gateway@a.service"]);
    assert.equal((await history(w.ctx.paths, "a")).generations.length, gens, "no generation for the enable state");
    assert.equal((await w.planOf()).code, 0);
    await w.write("[profile a]\nport = 8601\nenabled = yes\n");
    const back = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.deepEqual(back.roll!.profiles.map((x) => [x.name, x.outcome]), [["a", "rolled"]]);
    assert.equal(w.systemd.enabled.has("agent-gateway@a.service"), true);
    assert.equal((await w.planOf()).code, 0);
  } finally {
    await w.cleanup();
  }
});

test("a port move: plan shows it, apply moves and rolls the profile; a swap between two profiles is refused (exit 5)", async () => {
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\n[profile b]\nport = 8602\n");
    await apply.run(applyArgs(w.file), w.ctx);
    await w.write("[profile a]\nport = 8611\n[profile b]\nport = 8602\n");
    const p = await w.planOf();
    assert.deepEqual(p.data.profiles.map((c) => [c.name, c.action, c.portBefore, c.port, c.restart]), [["a", "change", 8601, 8611, true], ["b", "none", 8602, 8602, false]]);
    assert.match(p.text, /port 8601 → 8611/);
    const r = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.deepEqual(r.roll!.profiles.map((x) => [x.name, x.outcome]), [["a", "rolled"]]);
    assert.match(await fs.readFile(envFile(w.ctx.paths, "a"), "utf8"), /PORT="8611"/);
    await w.write("[profile a]\nport = 8602\n[profile b]\nport = 8611\n");
    await assert.rejects(plan.run({ ...g, file: w.file, prune: false }, w.ctx), (err: unknown) => hasCode(ExitCode.portTaken)(err) && /first move b/.test((err as AppError).hint ?? ""));
  } finally {
    await w.cleanup();
  }
});

test("host settings: [defaults] takes init's settings by flag name; port-var sets the profiles' port variable; export's lines read back as no change", async () => {
  const { DEFAULT_CONFIG } = await import("../../src/config.js");
  const { hostSettingLines, withHostSettings } = await import("../../src/core/manifest/host.js");
  const m = parse(
    [
      "[defaults]",
      'exec = "hermes --profile %i gateway run"',
      "port-var = API_SERVER_PORT",
      "range = 9000-9099",
      "sweep = no",
      "unique = BOT_TOKEN, DISCORD_TOKEN",
      "start-limit-burst = 3",
      "no-restart-on-exit = 1,78",
      "LOG_LEVEL = info",
      "[profile a]",
      "API_SERVER_PORT = 9001",
    ].join("\n"),
  );
  assert.deepEqual(m.host.map((h) => [h.key, h.value]), [
    ["exec", "hermes --profile %i gateway run"],
    ["port-var", "API_SERVER_PORT"],
    ["range", { from: 9000, to: 9099 }],
    ["sweep", false],
    ["unique", ["BOT_TOKEN", "DISCORD_TOKEN"]],
    ["start-limit-burst", "3"],
    ["no-restart-on-exit", "1 78"],
  ]);
  assert.equal(m.profiles[0]!.port, 9001, "the manifest's port variable carries the port");
  assert.deepEqual([...m.profiles[0]!.env], [["LOG_LEVEL", "info"]]);

  const applied = withHostSettings(DEFAULT_CONFIG, m.host);
  assert.deepEqual(applied.changes.map((c) => [c.key, c.before, c.after]), [
    ["exec", "", "hermes --profile %i gateway run"],
    ["port-var", "PORT", "API_SERVER_PORT"],
    ["range", "8600-8699", "9000-9099"],
    ["sweep", "yes", "no"],
    ["unique", "", "BOT_TOKEN, DISCORD_TOKEN"],
    ["start-limit-burst", null, "3"],
    ["no-restart-on-exit", null, "1 78"],
  ]);
  assert.deepEqual(applied.policy, [["StartLimitBurst", "3"], ["RestartPreventExitStatus", "1 78"]]);
  assert.equal(applied.config.portVar, "API_SERVER_PORT");
  assert.deepEqual(withHostSettings(applied.config, m.host).changes, [], "applied twice: nothing to change");

  // What export writes of that host parses back to the same settings: no change.
  const lines = hostSettingLines(applied.config, quoteManifestValue);
  assert.deepEqual(hostSettingLines(DEFAULT_CONFIG, quoteManifestValue), [], "a fresh init's host exports no [defaults]");
  const again = parse(`[defaults]\n${lines.join("\n")}\n`);
  assert.deepEqual(withHostSettings(applied.config, again.host).changes, []);
  assert.deepEqual(withHostSettings(DEFAULT_CONFIG, again.host).changes.map((c) => c.key), ["range", "port-var", "exec", "sweep", "unique", "start-limit-burst", "no-restart-on-exit"], "in init --help's order");
});

test("host settings on fakes: a manifest's own secret-keys mask its plan; port-var cannot change while profiles exist; exec off PATH is refused by plan at its line", async () => {
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\nMY_CRED = first-credential-value\n");
    assert.equal((await apply.run(applyArgs(w.file), w.ctx)).exitCode ?? 0, 0);
    await w.write("[defaults]\nsecret-keys = MY_CRED\n\n[profile a]\nport = 8601\nMY_CRED = second-credential-value\n");
    const p = await w.planOf();
    assert.equal(p.code, ExitCode.changesPending);
    for (const shown of [p.text, JSON.stringify(p.data)]) {
      assert.doesNotMatch(shown, /first-credential-value|second-credential-value/);
    }
    assert.match(p.text, /secret-keys: "" → MY_CRED/);

    await w.write("[defaults]\nport-var = API_SERVER_PORT\n\n[profile a]\nAPI_SERVER_PORT = 8601\n");
    await assert.rejects(w.planOf(), (err: unknown) => err instanceof ManifestError && /line 2: port-var cannot change from PORT while profiles exist \(a\)/.test(err.message));
    await w.write('[defaults]\nexec = "no-such-gateway-program --serve"\n\n[profile a]\nport = 8601\nMY_CRED = first-credential-value\n');
    await assert.rejects(w.planOf(), (err: unknown) => err instanceof ManifestError && /line 2: exec: "no-such-gateway-program" is not an executable file, nor found on PATH/.test(err.message));
  } finally {
    await w.cleanup();
  }
});

test("an apply stopped half-way: the next apply without --yes asks before finishing its roll (no terminal: exit 2, nothing restarted)", async () => {
  const { newRecord } = await import("../../src/core/roll/record.js");
  const { RollRecorder } = await import("../../src/core/roll/recorder.js");
  const { planRoll } = await import("../../src/core/roll/plan.js");
  const { parseRollOptions } = await import("../../src/core/roll/options.js");
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\nGREETING = one\n");
    assert.equal((await apply.run(applyArgs(w.file), w.ctx)).exitCode ?? 0, 0);
    const options = parseRollOptions(applyArgs(w.file) as never);
    await new RollRecorder(w.ctx.paths, newRecord(["a"], options, planRoll(["a"], options), "apply")).save();
    const calls = w.systemd.calls.length;
    await assert.rejects(apply.run(applyArgs(w.file, { yes: false }), w.ctx), (err: unknown) => err instanceof AppError && err.exitCode === ExitCode.usage && /would first finish the roll an earlier apply was stopped in \(restarting a\)/.test(err.message));
    assert.equal(w.systemd.calls.length, calls, "nothing restarted");
    const r = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.equal(r.resumed?.outcome, "completed");
    assert.equal(r.plan.pending, 0);
  } finally {
    await w.cleanup();
  }
});

test("a profile that never passed a health gate (its add failed or was stopped before the gate): plan restarts it, apply's roll gates it and marks it known-good", async () => {
  const w = await world();
  try {
    await w.write("[profile a]\nport = 8601\nGREETING = one\n");
    w.prober.verdicts.set(8601, { ok: false, reason: "probe status 500", status: 500, latencyMs: 1 });
    const first = (await apply.run(applyArgs(w.file, { wait: 1 }), w.ctx)).data as ApplyResult;
    assert.deepEqual(first.addFailed.map((f) => f.name), ["a"]);
    assert.equal((await history(w.ctx.paths, "a")).generations.some((g) => g.knownGood), false);

    w.prober.verdicts.delete(8601);
    const p = await w.planOf();
    assert.equal(p.code, ExitCode.changesPending);
    assert.deepEqual(p.data.profiles.map((c) => [c.name, c.action, c.restart, c.neverGated, c.env.length]), [["a", "change", true, true, 0]]);
    assert.match(p.text, /never passed a health gate/);
    const r = (await apply.run(applyArgs(w.file), w.ctx)).data as ApplyResult;
    assert.equal(r.roll?.outcome, "completed");
    assert.deepEqual(r.changed.map((c) => [c.name, c.generation]), [["a", null]], "no new generation: the same .env, gated");
    assert.deepEqual((await history(w.ctx.paths, "a")).generations.map((g) => [g.number, g.knownGood]), [[1, true]]);
    assert.equal((await w.planOf()).code, 0, "converged");
  } finally {
    await w.cleanup();
  }
});

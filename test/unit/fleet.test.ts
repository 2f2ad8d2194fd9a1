import assert from "node:assert/strict";
import test from "node:test";
import fs from "node:fs/promises";
import path from "node:path";
import { cliParser } from "../../src/cli-parser.js";
import { verbOf } from "../../src/commands/command.js";
import { createContext } from "../../src/core/context.js";
import { scanSections, type ManifestSection } from "../../src/core/manifest/lines.js";
import { parseManifest } from "../../src/core/manifest/parse.js";
import { UsageError } from "../../src/errors.js";
import { remoteArgv } from "../../src/fleet/argv.js";
import { fleetHosts } from "../../src/fleet/choose.js";
import { hostBatches, parsePace } from "../../src/fleet/fleet-roll.js";
import { chooseHosts, parseHostSpec, parseInventory, type Host } from "../../src/fleet/hosts.js";
import { hostsNotChosen, manifestFor, mergeExports, readFleetManifest } from "../../src/fleet/manifest.js";
import { runOnHosts, type Fleet } from "../../src/fleet/run.js";
import { sshArgv, type RemoteResult, type RemoteRunner } from "../../src/fleet/ssh.js";
import { inTempDir } from "../helpers/fakes.js";

test("host specs: [USER@]HOST[:PORT]; an option in disguise, a bad port or a space is refused", () => {
  assert.deepEqual(parseHostSpec("alice@web1:2222"), { name: "alice@web1:2222", destination: "web1", user: "alice", port: 2222 });
  assert.deepEqual(parseHostSpec("10.0.0.2"), { name: "10.0.0.2", destination: "10.0.0.2" });
  assert.deepEqual(parseHostSpec("[::1]:22"), { name: "[::1]:22", destination: "::1", port: 22 });
  for (const bad of ["-oProxyCommand=sh", "a b", "web1:0", "web1:70000", "@web1", "web1:", "a;b", ""]) {
    assert.throws(() => parseHostSpec(bad), UsageError, bad);
  }
});

test("inventories: plain lines, [group] sections, :children, Ansible's host vars; bad lines name their line", () => {
  const inv = parseInventory("# fleet\nvps\n[home]\nmini ansible_host=192.168.1.5 ansible_user=ops ansible_port=2200\nnas\n[edge]\nvps\n[all_home:children]\nhome\n", "hosts.ini");
  assert.deepEqual(inv.hosts.map((h) => h.name), ["vps", "mini", "nas"]);
  assert.deepEqual(inv.hosts[1], { name: "mini", destination: "192.168.1.5", user: "ops", port: 2200 });
  assert.deepEqual(inv.groups.get("home")!.map((h) => h.name), ["mini", "nas"]);
  assert.deepEqual(inv.groups.get("all_home")!.map((h) => h.name), ["mini", "nas"]);
  assert.deepEqual(inv.groups.get("all")!.map((h) => h.name), ["vps", "mini", "nas"]);
  assert.throws(() => parseInventory("[a]\nx ansible_become=yes\n", "f"), /f line 2: "ansible_become=yes"/);
  assert.throws(() => parseInventory("[a:bogus]\nx\n", "f"), /f line 1/);
  assert.throws(() => parseInventory("[a:children]\nb\n[b:children]\na\n", "f"), /contains itself/);
  assert.throws(() => parseInventory("[a:children]\nnope\n", "f"), /group "nope"/);
  // Hostile nesting: 40 groups each naming the next twice (2^40 paths) resolves at once; a chain of
  // 20,000 is refused by name instead of overflowing the stack.
  const doubled = Array.from({ length: 40 }, (_, i) => `[g${i}:children]\ng${i + 1}\ng${i + 1}\n`).join("") + "[g40]\nvps\n";
  assert.deepEqual(parseInventory(doubled, "f").groups.get("g0")?.map((h) => h.name), ["vps"]);
  const chain = (n: number) => Array.from({ length: n }, (_, i) => `[c${i}:children]\nc${i + 1}\n`).join("") + `[c${n}]\nvps\n`;
  assert.deepEqual(parseInventory(chain(50), "f").groups.get("c0")?.map((h) => h.name), ["vps"]);
  assert.throws(() => parseInventory(chain(20_000), "f"), (err: unknown) => err instanceof UsageError && /^f: groups nest more than 100 deep \(c0 > c1 > c2 > \.\.\.\)$/.test(err.message));
  // The same chain written from the bottom up: the bound does not depend on the order of the sections.
  const bottomUp = (n: number) => `[c${n}]\nvps\n` + Array.from({ length: n }, (_, i) => `[c${n - 1 - i}:children]\nc${n - i}\n`).join("");
  assert.deepEqual(parseInventory(bottomUp(50), "f").groups.get("c0")?.map((h) => h.name), ["vps"]);
  assert.throws(() => parseInventory(bottomUp(300), "f"), (err: unknown) => err instanceof UsageError && /^f: groups nest more than 100 deep/.test(err.message));
});

test("choosing hosts: comma lists, @group from the file, the whole file; a host twice or a group without a file is refused", async () => {
  await inTempDir("fleet-", async (dir) => {
    const file = path.join(dir, "hosts");
    await fs.writeFile(file, "[a]\nh1\nh2\n[b]\nh3\n");
    assert.deepEqual(chooseHosts(["h1,x@h9:2"], undefined).map((h) => h.name), ["h1", "x@h9:2"]);
    assert.deepEqual(chooseHosts(["@b", "h1"], file).map((h) => h.name), ["h3", "h1"]);
    assert.deepEqual(chooseHosts([], file).map((h) => h.name), ["h1", "h2", "h3"]);
    assert.throws(() => chooseHosts(["@a", "h2"], file), /named twice/);
    assert.throws(() => chooseHosts(["@a"], undefined), /needs --hosts-file/);
    assert.throws(() => chooseHosts(["@c"], file), /no group "c"/);
    assert.throws(() => chooseHosts(["a,,b"], undefined), /empty entry/);
    assert.throws(() => chooseHosts([], path.join(dir, "missing")), /ENOENT/);
    assert.equal(fleetHosts({}), null);
    assert.throws(() => fleetHosts({ maxParallelHosts: "2" }), /--max-parallel-hosts paces a roll across hosts/);
  });
});

test("--host without its value (or with one starting with -, which yargs reads as options) says what it takes: exit 2", async () => {
  for (const argv of [["list", "--host", "-oProxyCommand=x"], ["list", "--host"]]) {
    await assert.rejects(async () => cliParser(argv, async () => undefined).parseAsync(), (err: unknown) => err instanceof UsageError && err.message === '--host needs a host: [USER@]HOST[:PORT], a,b or @group (a host never starts with "-")');
  }
});

test("the command line a host gets: the fleet options gone, --json first when asked; ssh's argv ends the options before the host", () => {
  assert.deepEqual(remoteArgv(["roll", "--host", "a,b", "--canary-hosts=1", "--max-parallel", "2", "--json", "--hosts-file", "f"], true), ["--json", "roll", "--max-parallel", "2"]);
  assert.deepEqual(remoteArgv(["set", "n", "K=it's", "--host=a"], false), ["set", "n", "K=it's"]);
  const argv = sshArgv({ name: "a", destination: "web1", user: "ops", port: 2200 }, ["profiles", "set", "n", "K=it's"], { controlDir: "/run/x", config: "/c" });
  assert.deepEqual(argv.slice(0, 2), ["-F", "/c"]);
  assert.deepEqual(argv.slice(-3), ["--", "web1", "profiles set n 'K=it'\\''s'"]);
  assert.ok(argv.includes("ControlPath=/run/x/%C"));
});

test("host batches: the canaries first, then groups of --max-parallel-hosts; pacing values are checked", () => {
  assert.deepEqual(hostBatches(5, { canaryHosts: 1, maxParallelHosts: 2, maxFailPercent: 0 }), [[0], [1, 2], [3, 4]]);
  assert.deepEqual(hostBatches(3, { canaryHosts: 0, maxParallelHosts: 1, maxFailPercent: 0 }), [[0], [1], [2]]);
  assert.deepEqual(parsePace({ canaryHosts: "1", maxParallelHosts: "3", maxFailPercent: "50" }, 4), { canaryHosts: 1, maxParallelHosts: 3, maxFailPercent: 50 });
  assert.throws(() => parsePace({ canaryHosts: "5" }, 4), /from 0 to 4/);
  assert.throws(() => parsePace({ maxParallelHosts: "0" }, 4), /from 1 to 1000/);
  assert.throws(() => parsePace({ maxFailPercent: "x" }, 4), /0 to 100/);
  assert.throws(() => parsePace({ canaryHosts: "" }, 4), /whole number/);
});

/** A runner whose hosts answer from `reply`, recording each call in order. */
function fakeRunner(reply: (host: string, args: readonly string[]) => RemoteResult): RemoteRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(host, args, opts) {
      calls.push(`${host.name}: ${args.join(" ")}`);
      const r = reply(host.name, args);
      for (const l of r.stderr.split("\n").filter(Boolean)) opts?.onStderrLine?.(l);
      if (!opts?.onStdoutLine) return r;
      for (const l of r.stdout.split("\n").filter(Boolean)) opts.onStdoutLine(l);
      return { ...r, stdout: "" };
    },
  };
}

const hosts = (...names: string[]): Host[] => names.map((n) => ({ name: n, destination: n }));

/** `runOnHosts` as the CLI calls it: the verb and its options parsed from `argv` by the real parser. */
async function run(f: Fleet, argv: string[], on: Host[]) {
  let parsed: { verb: string; args: Record<string, unknown> } | undefined;
  await cliParser(argv, async (spec, args) => void (parsed = { verb: verbOf(spec.command), args })).parseAsync();
  return runOnHosts(f, parsed!.verb, argv, on, parsed!.args);
}

async function withFleet(runner: RemoteRunner, json: boolean, body: (f: Fleet, told: string[]) => Promise<void>): Promise<void> {
  await inTempDir("fleet-ctx-", async (dir) => {
    const told: string[] = [];
    const ctx = createContext({ env: { HOME: dir, PATH: process.env.PATH }, json, quiet: true });
    await body({ runner, version: "1.2.3", json, ctx, tell: (l) => told.push(l) }, told);
  });
}

const row = (name: string, port: number) => ({ name, unit: `agent-gateway@${name}.service`, port, activeState: "active", subState: "running", pid: 100, restarts: 0, enabled: true, disabled: false, result: "success", lastExit: null });

test("a read asks every host: one table with a HOST column, a host field in --json; an unreachable host exits 10, named, while the others answer", async () => {
  const runner = fakeRunner((h) => {
    if (h === "c") return { code: 255, stdout: "", stderr: "ssh: connect to host c port 22: Connection refused\n" };
    return { code: 0, stdout: JSON.stringify([row(`${h}1`, 18000)]), stderr: "" };
  });
  await withFleet(runner, false, async (f, told) => {
    const r = await run(f, ["list", "--host", "a,b,c"], hosts("a", "b", "c"));
    assert.equal(r.exitCode, 10);
    assert.match(r.text, /^HOST\s+NAME\s+PORT/);
    assert.match(r.text, /\na\s+a1\s+18000/);
    assert.match(r.text, /\nb\s+b1\s+18000/);
    assert.ok(told.some((l) => /host c did not answer: ssh: ssh: connect to host c port 22: Connection refused/.test(l)), told.join("\n"));
    assert.deepEqual(runner.calls.sort(), ["a: --json list", "b: --json list", "c: --json list"]);
    assert.deepEqual((r.data as { host: string }[]).map((d) => d.host), ["a", "b", "c"]);
  });
});

test("a host's JSON is checked before it is drawn: a list that is no list of profiles, or a roll summary of another shape, is that host's problem, not a crash", async () => {
  const runner = fakeRunner((h, args) => {
    if (args.includes("roll")) return { code: 0, stdout: JSON.stringify(h === "a" ? { rolls: [{ profiles: [{ name: "a1", outcome: "rolled" }] }] } : { rolls: "all of them" }), stderr: "" };
    return { code: 0, stdout: JSON.stringify(h === "a" ? [row("a1", 18000)] : h === "b" ? [{ port: 1 }] : { name: "c1" }), stderr: "" };
  });
  await withFleet(runner, false, async (f, told) => {
    const r = await run(f, ["list", "--host", "a,b,c"], hosts("a", "b", "c"));
    assert.equal(r.exitCode, 70);
    assert.match(r.text, /\na\s+a1\s+18000/);
    assert.doesNotMatch(r.text, /undefined/);
    assert.ok(told.some((l) => /^host b answered with JSON that is not a list of profiles \(0\.name: /.test(l)), told.join("\n"));
    assert.ok(told.some((l) => /^host c answered with JSON that is not a list of profiles/.test(l)), told.join("\n"));
    const roll = await run(f, ["roll", "--host", "a,b"], hosts("a", "b"));
    assert.equal(roll.exitCode, 0);
    assert.match(roll.text, /\na\s+a1\s+rolled/);
    assert.match(roll.text, /\nb\s+-\s+unreadable\s+its answer is not a roll summary: rolls: /);
  });
});

test("top --once across hosts: every host's rows with a HOST column, sorted and filtered here; rows that are no top rows, and a host that does not answer, are told", async () => {
  const top = (name: string, over: object = {}) => ({ name, port: 18000, activeState: "active", subState: "running", disabled: false, pid: 100, startedAtMs: Date.now() - 5000, restarts: 0, memoryBytes: 1024 * 1024, memorySource: "rss", cpuPercent: 1.5, cpuSource: "proc", health: { ok: true, reason: "ok" }, pendingRestart: false, ...over });
  const runner = fakeRunner((h) => {
    if (h === "a") return { code: 0, stdout: JSON.stringify([top("web", { restarts: 1 }), top("api", { restarts: 7 })]), stderr: "" };
    if (h === "b" || h === "mini") return { code: 0, stdout: JSON.stringify([top("web", { restarts: 3 })]), stderr: "" };
    if (h === "c") return { code: 0, stdout: JSON.stringify([{ name: "x", port: "eighty" }]), stderr: "" };
    return { code: 255, stdout: "", stderr: "ssh: connect to host d port 22: Connection refused\n" };
  });
  await withFleet(runner, false, async (f, told) => {
    const r = await run(f, ["top", "--once", "--sort", "restarts", "--host", "a,b,c,d"], hosts("a", "b", "c", "d"));
    assert.deepEqual(runner.calls.sort(), ["a: --json top --interval 3 --once", "b: --json top --interval 3 --once", "c: --json top --interval 3 --once", "d: --json top --interval 3 --once"]);
    assert.equal(r.exitCode, 70);
    const lines = r.text.split("\n");
    assert.match(lines[0]!, /^HOST\s+NAME\s+PORT/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join("/")), ["a/api", "b/web", "a/web"]);
    assert.ok(told.some((l) => /^host c answered with rows this side cannot read \(0\.port: /.test(l)), told.join("\n"));
    assert.ok(told.some((l) => /host d did not answer/.test(l)), told.join("\n"));
    const filtered = await run(f, ["top", "--once", "--filter", "mini", "--json", "--host", "a,mini"], hosts("a", "mini"));
    assert.equal(filtered.exitCode, 0);
    assert.deepEqual((filtered.data as { host: string; name: string }[]).map((x) => `${x.host}/${x.name}`), ["mini/web"]);
  });
});

test("status NAME across hosts: each host's one object is a row; top --once where no host answered prints no 'no profiles yet'", async () => {
  const runner = fakeRunner((h, args) => {
    if (args.includes("top")) return { code: 255, stdout: "", stderr: `ssh: connect to host ${h} port 22: Connection refused\n` };
    return { code: 0, stdout: JSON.stringify({ ...row("web", h === "a" ? 18000 : 18001), health: { ok: true }, limits: { MemoryMax: "infinity", CPUQuotaPerSecUSec: "infinity", TasksMax: "infinity", RestartUSec: 100000 } }), stderr: "" };
  });
  await withFleet(runner, false, async (f, told) => {
    const r = await run(f, ["status", "web", "--host", "a,b"], hosts("a", "b"));
    assert.equal(r.exitCode, 0, told.join("\n"));
    assert.match(r.text, /\na\s+web\s+18000/);
    assert.match(r.text, /\nb\s+web\s+18001/);
    const top = await run(f, ["top", "--once", "--host", "a,b"], hosts("a", "b"));
    assert.equal(top.exitCode, 10);
    assert.equal(top.text, "");
  });
});

test("a change goes host by host and stops at the first that fails; a host without profiles exits 17 with the install command", async () => {
  const runner = fakeRunner((h) => (h === "b" ? { code: 127, stdout: "", stderr: "env: 'profiles': No such file or directory\n" } : { code: 0, stdout: "set\n", stderr: "" }));
  await withFleet(runner, false, async (f, told) => {
    const r = await run(f, ["set", "n", "K=V", "--host", "a,b,c"], hosts("a", "b", "c"));
    assert.equal(r.exitCode, 17);
    assert.deepEqual(runner.calls, ["a: set n K=V", "b: set n K=V"]);
    assert.ok(told.some((l) => /npm install -g agent-profiles@1\.2\.3/.test(l)));
    assert.ok(told.some((l) => /not run on c/.test(l)));
    assert.match(r.text, /== c \(not run\) ==/);
  });
  await withFleet(runner, false, async (f) => {
    await assert.rejects(run(f, ["set", "n", "--env-file", "x", "--host", "a"], hosts("a")), /--env-file names a file on this machine/);
  });
});

/** A host's `profiles roll --json` summary with one profile's outcome. */
const rollSummary = (name: string, outcome: string) => JSON.stringify({ outcome: outcome === "rolled" ? "completed" : "halted", rolls: [{ profiles: [{ name, outcome }] }] });

test("a fleet roll: the canary first, then batches; a failed host halts it, later hosts untouched; the same command resumes, skipping rolled hosts", async () => {
  let bFails = true;
  const runner = fakeRunner((h, args) => {
    if (args.includes("list")) return { code: 0, stdout: "[]", stderr: "" };
    if (h === "b" && bFails) return { code: 13, stdout: rollSummary("b1", "reverted"), stderr: "" };
    return { code: 0, stdout: rollSummary(`${h}1`, "rolled"), stderr: "" };
  });
  const argv = ["roll", "--host", "a,b,c,d", "--canary-hosts", "1", "--max-parallel-hosts", "2"];
  await withFleet(runner, false, async (f, told) => {
    const r = await run(f, argv, hosts("a", "b", "c", "d"));
    assert.equal(r.exitCode, 13);
    const rolls = runner.calls.filter((c) => !c.endsWith("list --json"));
    assert.deepEqual(rolls.sort(), ["a: --json roll", "b: --json roll", "c: --json roll"]);
    const states = (r.data as { hosts: { host: string; state: string }[] }).hosts.map((h) => `${h.host} ${h.state}`);
    assert.deepEqual(states, ["a rolled", "b failed", "c rolled", "d not-reached"]);
    assert.match(r.text, /b\s+b1\s+reverted/);
    assert.match(r.text, /halted: b failed/);
    // Another fleet roll is refused while this one is unfinished; the same command resumes it.
    await assert.rejects(run(f, ["roll", "--host", "a,b"], hosts("a", "b")), /an unfinished fleet roll/);
    bFails = false;
    runner.calls.length = 0;
    // Resumed without its pacing flags: it goes on with the recorded ones, and says so.
    const again = await run(f, ["roll", "--host", "a,b,c,d"], hosts("a", "b", "c", "d"));
    assert.equal(again.exitCode, 0, again.text);
    assert.deepEqual(runner.calls.filter((c) => !c.endsWith("list --json")).sort(), ["b: --json roll", "d: --json roll"]);
    assert.ok(told.some((l) => l === "it goes on with the pacing it started with (--canary-hosts 1 --max-parallel-hosts 2 --max-fail-percent 0), not the one given now"), told.join("\n"));
    await assert.rejects(fs.access(path.join(f.ctx.paths.stateDir, "fleet-roll.json")));
  });
});

test("a fleet roll does not start unless every host answers: nothing rolls, the silent host named", async () => {
  const runner = fakeRunner((h, args) => (h === "b" ? { code: 255, stdout: "", stderr: "Host key verification failed.\n" } : { code: 0, stdout: args.includes("list") ? "[]" : rollSummary("a1", "rolled"), stderr: "" }));
  await withFleet(runner, true, async (f, told) => {
    const r = await run(f, ["roll", "--host", "a,b", "--json"], hosts("a", "b"));
    assert.equal(r.exitCode, 10);
    assert.deepEqual(runner.calls.filter((c) => !c.endsWith("list --json")), []);
    assert.ok(told.some((l) => /host b did not answer: ssh: Host key verification failed/.test(l)));
  });
});

test("a manifest across hosts: each host's part keeps every line where it was; hosts lines go; env-file must be absolute; export merges", async () => {
  await inTempDir("fleet-m-", async (dir) => {
    const file = path.join(dir, "profiles.ini");
    const text = "[defaults]\nMODEL = x\n\n[profile p1]\nhosts = a, b\nport = 18001\n\n[profile p2]\nhosts = b\nport = 18002\n\n[profile p3]\nport = 18003\n";
    await fs.writeFile(file, text);
    const m = readFleetManifest(file);
    const forA = manifestFor(m, ["a"]).split("\n");
    assert.equal(forA.length, text.split("\n").length);
    assert.deepEqual(forA.filter(Boolean), ["[defaults]", "MODEL = x", "[profile p1]", "port = 18001", "[profile p3]", "port = 18003"]);
    assert.equal(forA.indexOf("[profile p3]"), text.split("\n").indexOf("[profile p3]"));
    assert.deepEqual(manifestFor(m, ["b"]).split("\n").filter(Boolean), ["[defaults]", "MODEL = x", "[profile p1]", "port = 18001", "[profile p2]", "port = 18002", "[profile p3]", "port = 18003"]);
    assert.deepEqual(hostsNotChosen(m, ["a"]), ["b"]);
    await fs.writeFile(file, "[profile p1]\nenv-file = secrets.env\n");
    assert.throws(() => readFleetManifest(file), /line 2: env-file "secrets.env" is relative/);
    await fs.writeFile(file, "[defaults]\nhosts = a\n");
    assert.throws(() => readFleetManifest(file), /line 2: `hosts` belongs in a \[profile NAME\] section/);
  });
  const merged = mergeExports([
    { host: "a", text: "# exported\n[defaults]\nMODEL = x\n\n[profile p1]\nport = 18001\n\n[profile p3]\nport = 18003\n" },
    { host: "b", text: "# exported\n[defaults]\nMODEL = x\n\n[profile p1]\nport = 18001\n\n[profile p2]\nport = 18002\n" },
  ]);
  assert.equal(merged, "[defaults]\nMODEL = x\n\n[profile p1]\nport = 18001\n\n[profile p3]\nhosts = a\nport = 18003\n\n[profile p2]\nhosts = b\nport = 18002\n");
  assert.throws(() => mergeExports([{ host: "a", text: "[profile p1]\nport = 1\n" }, { host: "b", text: "[profile p1]\nport = 2\n" }]), /\[profile p1\] is not the same on a and b/);
});

test("plan's 16 (changes pending) ranks below every failure of another host", async () => {
  const runner = fakeRunner((h) => (h === "a" ? { code: 16, stdout: "plan\n", stderr: "" } : { code: 255, stdout: "", stderr: "ssh: no route\n" }));
  await inTempDir("fleet-p-", async (dir) => {
    const file = path.join(dir, "m.ini");
    await fs.writeFile(file, "[profile p1]\nport = 18001\n");
    await withFleet(runner, false, async (f) => {
      const r = await run(f, ["plan", "-f", file, "--host", "a,b"], hosts("a", "b"));
      assert.equal(r.exitCode, 10);
      assert.deepEqual(runner.calls.sort(), ["a: plan -f -", "b: plan -f -"]);
      await assert.rejects(run(f, ["apply", "-f", file, "--host", "a"], hosts("a")), /needs --yes/);
    });
  });
});

test("[host NAME]: that host's [defaults], sent to it alone; elsewhere refused; export puts the lines hosts do not share there", () => {
  const text = "[defaults]\nrange = 18000-18099\nstop-timeout = 20\n\n[host b]\nrange = 18100-18199\n\n[profile p1]\nport = 18001\n";
  const m = { file: "m.ini", text, sections: (scanSections(text) as ManifestSection[]) };
  assert.deepEqual(manifestFor(m, ["a"]).split("\n").filter(Boolean), ["[defaults]", "range = 18000-18099", "stop-timeout = 20", "[profile p1]", "port = 18001"]);
  const forB = manifestFor(m, ["b"]);
  const parsed = parseManifest(forB, "m.ini", "PORT", "/", "b");
  assert.deepEqual(Object.fromEntries(parsed.host.map((h) => [h.key, h.value])), { range: { from: 18100, to: 18199 }, "stop-timeout": 20 });
  assert.throws(() => parseManifest(`${forB}\n[host b]\nrange = 1-2\n`, "m.ini", "PORT", "/", "b"), /\[host b\] appears twice \(first at line 5\)/);
  assert.throws(() => parseManifest(forB, "m.ini", "PORT"), /line 5: \[host b\] holds one host's settings/);
  const merged = mergeExports([
    { host: "a", text: "[defaults]\nrange = 1-2\nexec = gw\n\n[profile p1]\nport = 1\n" },
    { host: "b", text: "[defaults]\nrange = 3-4\nexec = gw\n\n[profile p2]\nport = 3\n" },
  ]);
  assert.equal(merged, "[defaults]\nexec = gw\n\n[host a]\nrange = 1-2\n\n[host b]\nrange = 3-4\n\n[profile p1]\nhosts = a\nport = 1\n\n[profile p2]\nhosts = b\nport = 3\n");
});

test("review fixes: --host takes one word; a camelCase spelling is no fleet flag for the host; _ in host names; Ansible's vars and bare mentions; no secret echoed", async () => {
  let args: Record<string, unknown> = {};
  await cliParser(["status", "--host", "vps", "hermes1"], async (_s, a) => void (args = a)).parseAsync();
  assert.deepEqual([args.host, args.name], [["vps"], "hermes1"]);
  assert.deepEqual(remoteArgv(["roll", "--hostsFile", "h.ini", "--maxFailPercent", "50", "--json", "false"], false), ["roll"]);
  assert.deepEqual(parseHostSpec("web_1"), { name: "web_1", destination: "web_1" });
  const inv = parseInventory("[a]\nvps ansible_host=fe80::1 ansible_user=ops\n[b]\nvps\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n", "h");
  assert.deepEqual(inv.hosts, [{ name: "vps", destination: "fe80::1", user: "ops" }]);
  assert.deepEqual(inv.groups.get("b")!.map((h) => h.name), ["vps"]);
  const runner = fakeRunner(() => ({ code: 0, stdout: "ok\n", stderr: "" }));
  await withFleet(runner, false, async (f, told) => {
    await run(f, ["set", "hermes1", "OPENAI_API_KEY=sk-live-abcdefghijklmnop", "--host", "a"], hosts("a"));
    assert.ok(told.length > 0 && told.every((l) => !l.includes("sk-live")), told.join("\n"));
  });
});

test("review fixes: export gives a host without [defaults] none of another's; --prune refused for a host the manifest gives nothing; failures within --max-fail-percent end as completed-with-failures", async () => {
  const merged = mergeExports([
    { host: "a", text: "[defaults]\nrange = 1-2\n\n[profile p1]\nport = 1\n" },
    { host: "b", text: "[profile p1]\nport = 1\n" },
  ]);
  assert.equal(merged, "[defaults]\n\n[host a]\nrange = 1-2\n\n[profile p1]\nport = 1\n");
  await inTempDir("fleet-r-", async (dir) => {
    const file = path.join(dir, "m.ini");
    await fs.writeFile(file, "[profile p1]\nhosts = b\nport = 18001\n");
    const runner = fakeRunner((h, args) => (args.includes("list") || args.includes("plan") ? { code: 0, stdout: "[]", stderr: "" } : h === "b" ? { code: 13, stdout: rollSummary("b1", "reverted"), stderr: "" } : { code: 0, stdout: rollSummary(`${h}1`, "rolled"), stderr: "" }));
    await withFleet(runner, false, async (f) => {
      await assert.rejects(run(f, ["apply", "-f", file, "--host", "ops@b,c", "--yes", "--prune"], [{ name: "ops@b", destination: "b", user: "ops" }, ...hosts("c")]), /--prune would remove every profile on c/);
      const r = await run(f, ["roll", "--host", "a,b,c,d", "--max-fail-percent", "30"], hosts("a", "b", "c", "d"));
      assert.equal(r.exitCode, 13);
      assert.equal((r.data as { outcome: string }).outcome, "completed-with-failures");
      assert.deepEqual((r.data as { hosts: { state: string }[] }).hosts.map((h) => h.state), ["rolled", "failed", "rolled", "rolled"]);
      assert.match(r.text, /every host was tried; b did not roll \(within --max-fail-percent 30\)/);
    });
  });
});

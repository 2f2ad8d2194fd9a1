/**
 * `profiles --host` against real hosts: an sshd per host on a loopback address, each logging into a user
 * with its own user manager (test/helpers/ssh-hosts.ts), driven by another user over ssh.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { shellWord } from "../../src/render/shell.js";
import { asUserArgv, run, spawnCli, type ExecResult } from "../helpers/sandbox.js";
import { startFleet, type Fleet, type FleetHost } from "../helpers/ssh-hosts.js";
import { waitFor } from "../helpers/cli-run.js";
import { Terminal } from "../helpers/tmux.js";
import { GONE_READER } from "../helpers/gone-reader.js";

// Addresses 127.0.0.2-19 are this file's (ssh-hosts.test has 20-29); ports 23000-23059.
const RANGES: Record<string, string> = { a: "23000-23019", b: "23020-23039", c: "23040-23059" };
const FAST = ["--min-healthy-time", "0.5", "--healthy-deadline", "6"];
let fleet: Fleet;
let oldApp: string;

interface Row { host: string; name: string; pid: number | null; activeState: string; error?: { message: string } }
const json = <T>(r: ExecResult): T => JSON.parse(r.stdout) as T;
const host = (name: string): FleetHost => fleet.hosts.find((h) => h.name === name)!;
const drive = (args: string[], timeoutMs = 120_000) => fleet.profiles(args, { timeoutMs });
const on = async (name: string, args: string[]) => {
  const r = await host(name).sb.profiles(args, { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `${name}: ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
};
/** Each profile's MainPID on a host, read there. */
const pids = async (name: string) => Object.fromEntries(json<Row[]>({ code: 0, stdout: await on(name, ["list", "--json"]), stderr: "" }).map((r) => [r.name, r.pid]));

/** How many times a profile's gateway started listening, from its log file on that host. */
const starts = async (h: string, p: string) => ((await fs.readFile(path.join(host(h).sb.home, "logs", `${p}.log`), "utf8")).match(/ listening on /g) ?? []).length;

before(async () => {
  // A host whose profiles is another version: a copy of the app that says 0.0.1.
  oldApp = await fs.mkdtemp("/tmp/agent-profiles-old-");
  await fs.cp(process.env.AP_APP_DIR!, oldApp, { recursive: true });
  const pkg = JSON.parse(await fs.readFile(path.join(oldApp, "package.json"), "utf8"));
  await fs.writeFile(path.join(oldApp, "package.json"), JSON.stringify({ ...pkg, version: "0.0.1" }));
  await fs.chmod(oldApp, 0o755);
  fleet = await startFleet(
    [
      { name: "a", addr: "127.0.0.2" },
      { name: "b", addr: "127.0.0.3" },
      { name: "c", addr: "127.0.0.4" },
      { name: "old", addr: "127.0.0.5", profiles: `node ${oldApp}/dist/src/cli.cjs` },
      { name: "bare", addr: "127.0.0.6", profiles: "/nonexistent/profiles" },
    ],
    { journal: false },
  );
  for (const h of ["a", "b", "c"]) {
    await on(h, ["init", "--range", RANGES[h]!, "--log-dir", path.join(host(h).sb.home, "logs"), "--no-sweep"]);
    for (const p of [`${h}1`, `${h}2`]) await on(h, ["add", p]);
  }
});

after(async () => {
  await fleet?.stop();
  if (oldApp) await fs.rm(oldApp, { recursive: true, force: true });
});

test("reads across hosts: one table with a HOST column, a host field in --json, the exit code the worst of the hosts", async () => {
  const r = await drive(["list", "--host", "a,b", "--host", "c", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const rows = json<Row[]>(r);
  assert.deepEqual(rows.map((x) => `${x.host}/${x.name}`), ["a/a1", "a/a2", "b/b1", "b/b2", "c/c1", "c/c2"]);
  assert.ok(rows.every((x) => x.activeState === "active" && x.pid !== null));
  const text = await drive(["list", "--host", "a,b"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^HOST\s+NAME\s+PORT\s+STATE/);
  assert.match(text.stdout, /\nb\s+b2\s+2302\d\s+active\/running/);
  // One profile down on b: health of both hosts exits 7, and a's verdicts are still there.
  await on("b", ["stop", "b2"]);
  try {
    const h = await drive(["health", "--host", "a,b"]);
    assert.equal(h.code, 7, h.stdout + h.stderr);
    assert.match(h.stdout, /\na\s+a1\s.*healthy/);
    assert.match(h.stdout, /b\/b2/);
  } finally {
    await on("b", ["start", "b2"]);
  }
  // Logs of every profile of both hosts, each line with its host; doctor's own text under each host's name.
  const logs = await drive(["logs", "-n", "1", "--host", "a,b"]);
  assert.equal(logs.code, 0, logs.stderr);
  for (const p of ["a1", "a2", "b1", "b2"]) assert.match(logs.stdout, new RegExp(`^${p[0]} .*${p}.* listening on `, "m"), logs.stdout);
  // Their lines refused by stdout (a full disk): exit 15, said once; a reader that has gone (EPIPE): quiet, where both crashed.
  const cli = ["node", path.join(fleet.driver.appDir, "dist/src/cli.cjs"), "logs", "-n", "1", "--host", "a,b"];
  const full = await fleet.exec("bash", ["-c", `exec ${cli.join(" ")} > /dev/full`], { timeoutMs: 120_000 });
  assert.equal(full.code, 15, full.stderr);
  assert.match(full.stderr, /^profiles: cannot write the output to standard output: no space left on the device \(ENOSPC\)\n/m);
  assert.doesNotMatch(full.stderr, /Unhandled|\n\s+at /, "a stack trace");
  const gone = await fleet.exec("bash", ["-c", GONE_READER, "bash", ...cli], { timeoutMs: 120_000 });
  assert.equal(gone.code, 0, gone.stderr);
  assert.doesNotMatch(gone.stderr, /Unhandled|\n\s+at /, "a stack trace");
  const doctor = await drive(["doctor", "--host", "a,b"]);
  assert.match(doctor.stdout, /^== a \(exit (0|14)\) ==\n[\s\S]*\n== b \(exit (0|14)\) ==\n/);
  assert.ok([0, 14].includes(doctor.code), doctor.stdout + doctor.stderr);
  // A hosts file with a group.
  const inv = path.join(fleet.driver.home, "hosts.ini");
  await fleet.driver.exec("sh", ["-c", `printf '[pair]\\na\\nc\\n' > ${inv}`]);
  const g = await drive(["status", "--hosts-file", inv, "--host", "@pair", "--json"]);
  assert.equal(g.code, 0, g.stderr);
  assert.deepEqual([...new Set(json<Row[]>(g).map((x) => x.host))], ["a", "c"]);
});

/** The `profiles VERB...` processes of host `h`'s user, as `pgrep -a` lists them ("" when none). */
const runningOn = async (h: string, verb: string): Promise<string> => (await run("pgrep", ["-a", "-u", String(host(h).sb.uid), "-f", `dist/src/cli.cjs ${verb}`], 10_000)).stdout.trim();

test("logs -f across hosts follows every host's new lines; a driver SIGKILLed leaves no `profiles logs` following on any host", async () => {
  // sshd gives a command without a terminal no SIGHUP when its client goes: only the end of its stdin tells.
  const following = (h: string) => runningOn(h, "logs -f");
  const follow = spawnCli(fleet.driver, ["logs", "-f", "-n", "1", "--host", "a,b"], { AP_SSH_CONFIG: fleet.sshConfig });
  try {
    await follow.until(/^a .* listening on /m, 60_000);
    await follow.until(/^b .* listening on /m, 60_000);
    const seen = (follow.stdout().match(/^b .*b1.* listening on /gm) ?? []).length;
    await on("b", ["restart", "b1"]);
    await follow.until(new RegExp(`(^b .*b1.* listening on [\\s\\S]*){${seen + 1}}`, "m"), 30_000);
    for (const h of ["a", "b"]) assert.notEqual(await following(h), "", `no \`profiles logs -f\` on ${h} while the driver follows`);
  } finally {
    process.kill(follow.pid, "SIGKILL");
    await follow.done;
  }
  await waitFor("no `profiles logs -f` left on a or b", async () => (await following("a")) === "" && (await following("b")) === "", 20_000);
});

test("top across hosts: --once --json has every host's rows with their host; the live view follows a change on b; a driver SIGKILLed leaves no `profiles top` on the hosts", async () => {
  const once = await drive(["top", "--once", "--json", "--host", "a,b"]);
  assert.equal(once.code, 0, once.stderr);
  assert.deepEqual(json<Row[]>(once).map((r) => `${r.host}/${r.name}`), ["a/a1", "a/a2", "b/b1", "b/b2"]);
  // Not a terminal: a plain table each time it changed, at most once per --interval.
  const live = spawnCli(fleet.driver, ["top", "--host", "a,b", "--interval", "1"], { AP_SSH_CONFIG: fleet.sshConfig });
  try {
    await live.until(/^HOST\s+NAME\s+PORT\s+STATE/m, 60_000);
    // Each host's rows as they come: a frame may show one host and "waiting for host" the other.
    await live.until(/^b\s+b2\s+\d+\s+active\/running/m, 30_000);
    await live.until(/^a\s+a1\s+\d+\s+active\/running/m, 30_000);
    await on("b", ["stop", "b2"]);
    await live.until(/^b\s+b2\s+\d+\s+inactive\/dead/m, 30_000);
    for (const h of ["a", "b"]) assert.notEqual(await runningOn(h, "top"), "", `no \`profiles top\` on ${h} while the driver shows it`);
  } finally {
    process.kill(live.pid, "SIGKILL");
    await live.done;
    await on("b", ["start", "b2"]);
  }
  await waitFor("no `profiles top` left on a or b", async () => (await runningOn("a", "top")) === "" && (await runningOn("b", "top")) === "", 20_000);
});

test("top --host in a real terminal: both hosts' rows on one screen, sorted by a key; q quits (exit 0) and the hosts' tops end with it", async () => {
  const cli = path.join(fleet.driver.appDir, "dist/src/cli.cjs");
  const script = `node ${shellWord(cli)} top --host a,b; echo "top exited $?"; exec cat`;
  const term = new Terminal(asUserArgv(fleet.driver, ["sh", "-c", script], { AP_SSH_CONFIG: fleet.sshConfig }));
  const both = (s: string) => /^a\s+a1\s+\d+\s+active\/running/m.test(s) && /^b\s+b2\s+\d+\s+active\/running/m.test(s);
  try {
    await term.until(both, "both hosts' rows", 60_000);
    assert.equal(term.format("#{alternate_on}"), "1");
    // By port, smallest first: host a's range is below b's.
    term.send("p");
    await term.until((s) => /sort: port/.test(s) && /^a\s+a1[\s\S]*^a\s+a2[\s\S]*^b\s+b1[\s\S]*^b\s+b2/m.test(s), "sorted by port");
    term.send("q");
    await term.until((s) => /top exited 0/.test(s), "top gone after q", 30_000);
  } finally {
    term.close();
  }
  await waitFor("no `profiles top` left on a or b", async () => (await runningOn("a", "top")) === "" && (await runningOn("b", "top")) === "", 20_000);
});

test("set KEY --stdin --host from a terminal: the value is typed without echo, as a local set reads it, and reaches the host", async () => {
  const cli = path.join(fleet.driver.appDir, "dist/src/cli.cjs");
  const script = `node ${shellWord(cli)} set a1 FLEET_TOKEN --stdin --host a; echo "set exited $?"; exec cat`;
  const term = new Terminal(asUserArgv(fleet.driver, ["sh", "-c", script], { AP_SSH_CONFIG: fleet.sshConfig }));
  const typed = "typed-not-shown-8c1f";
  try {
    await term.until((s) => /value of FLEET_TOKEN \(not shown\): *$/m.test(s), "the prompt");
    term.send(typed, true);
    term.send("Enter");
    const screen = await term.until((s) => /set exited \d+/.test(s), "set done", 60_000);
    assert.match(screen, /set exited 0/);
    assert.ok(!screen.includes(typed), `the value was echoed:\n${screen}`);
  } finally {
    term.close();
  }
  const env = json<{ variables: Record<string, string> }>({ code: 0, stdout: await on("a", ["env", "a1", "--json", "--show-secrets"]), stderr: "" });
  assert.equal(env.variables.FLEET_TOKEN, typed);
});

test("an unreachable host exits 10 naming it while the others answer; an unknown host key is refused with ssh's message and nothing changes", async () => {
  const r = await drive(["list", "--host", "a,127.0.0.19:2222", "--json"]);
  assert.equal(r.code, 10, r.stdout + r.stderr);
  assert.match(r.stderr, /host 127\.0\.0\.19:2222 did not answer: ssh: .*Connection refused/);
  const rows = json<Row[]>(r);
  assert.deepEqual(rows.filter((x) => !x.error).map((x) => x.name), ["a1", "a2"]);
  // b's address, but not under the alias whose known_hosts pins its key; in control sockets of its own, or
  // ssh would reuse the connection the alias opened (same address, port and user) and ask nothing.
  const before = await pids("b");
  const runtime = await fs.mkdtemp("/tmp/fleet-runtime-");
  await fs.chown(runtime, fleet.driver.uid, fleet.driver.gid);
  const s = await fleet.profiles(["stop", "b1", "--host", `${host("b").sb.user}@127.0.0.3:2222`], { timeoutMs: 60_000, env: { XDG_RUNTIME_DIR: runtime } });
  await fs.rm(runtime, { recursive: true, force: true });
  assert.equal(s.code, 10, s.stdout + s.stderr);
  assert.match(s.stderr, /Host key verification failed/);
  assert.deepEqual(await pids("b"), before);
});

test("a host with another version of profiles, or none, exits 17 naming both versions or the install command", async () => {
  const r = await drive(["list", "--host", "a,old"]);
  assert.equal(r.code, 17, r.stdout + r.stderr);
  assert.match(r.stderr, /this host runs profiles 0\.0\.1, and the command came from profiles \d+\.\d+\.\d+/);
  assert.match(r.stdout, /\na\s+a1/);
  const n = await drive(["list", "--host", "bare"]);
  assert.equal(n.code, 17, n.stdout + n.stderr);
  assert.match(n.stderr, /host bare has no `profiles` on its PATH .*npm install -g agent-profiles@/);
  const bad = await drive(["list", "--host", "-oProxyCommand=touch /tmp/x"]);
  assert.equal(bad.code, 2, bad.stderr);
});

test("a fleet roll: the canary host, then the rest; a failing profile on b halts it (reverted), c untouched; the same command resumes", async () => {
  await on("b", ["set", "b2", "HOST=0.0.0.0"]);
  const before = { a: await pids("a"), b: await pids("b"), c: await pids("c") };
  const argv = ["roll", "--host", "a,b,c", "--canary-hosts", "1", ...FAST];
  const r = await drive([...argv, "--json"]);
  assert.equal(r.code, 13, r.stdout + r.stderr);
  const s = json<{ outcome: string; hosts: { host: string; state: string; roll: { rolls: { profiles: { name: string; outcome: string }[] }[] } | null }[] }>(r);
  assert.equal(s.outcome, "halted");
  assert.deepEqual(s.hosts.map((h) => `${h.host} ${h.state}`), ["a rolled", "b failed", "c not-reached"]);
  assert.deepEqual(Object.fromEntries(s.hosts[1]!.roll!.rolls[0]!.profiles.map((p) => [p.name, p.outcome])), { b1: "rolled", b2: "reverted" });
  const after1 = { a: await pids("a"), c: await pids("c") };
  for (const p of ["a1", "a2"]) assert.notEqual(after1.a[p], before.a[p], p);
  assert.deepEqual(after1.c, before.c, "c was restarted");
  // b2 is back on its known-good .env; the same command finishes the fleet roll and skips a.
  const again = await drive(argv);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stderr, /resuming the fleet roll/);
  assert.match(again.stdout, /\nc\s+c1\s+rolled/);
  assert.deepEqual(await pids("a"), after1.a, "a was rolled twice");
  const after2 = await pids("c");
  for (const p of ["c1", "c2"]) assert.notEqual(after2[p], before.c[p], p);
});

test("a fleet roll whose driver is SIGKILLed mid-way: the same command resumes it, rolling no host twice", async () => {
  const before = { a: await pids("a"), b: await pids("b"), c: await pids("c") };
  const startsBefore: Record<string, number> = { b1: (await starts("b", "b1")) + 1, b2: (await starts("b", "b2")) + 1 };
  const args = ["roll", "--host", "a,b,c", "--min-healthy-time", "1.5", "--healthy-deadline", "8"];
  const record = path.join(fleet.driver.home, ".local/state/agent-profiles/fleet-roll.json");
  const run = spawnCli(fleet.driver, args, { AP_SSH_CONFIG: fleet.sshConfig });
  let killedWith = "";
  await waitFor("host a rolled and b rolling in the fleet record", async () => {
    const text = await fs.readFile(record, "utf8").catch(() => "");
    if (!/"name": "b",\s*"state": "rolling"/.test(text)) return false;
    killedWith = text;
    return true;
  }, 90_000);
  process.kill(run.pid, "SIGKILL");
  await run.done;
  assert.match(killedWith, /"name": "a",\s*"state": "rolled"/);
  const mid = await pids("a");
  const again = await drive(args);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual(await pids("a"), mid, "a was rolled again");
  const after = { b: await pids("b"), c: await pids("c") };
  for (const h of ["b", "c"] as const) for (const p of Object.keys(before[h])) assert.notEqual(after[h][p], before[h][p], `${p} was not rolled`);
  for (const p of ["a1", "a2"]) assert.notEqual(mid[p], before.a[p], p);
  // Rolled once, not once by the killed driver's ssh and again by the resume: one more start in each log.
  for (const p of ["b1", "b2"]) assert.equal(await starts("b", p), startsBefore[p], `${p} started ${(await starts("b", p)) - startsBefore[p]! + 1} times`);
});

test("a host that drops mid-roll: reported unreachable, the fleet roll halted with the next host untouched; the same command resumes without rolling it twice", async () => {
  const before = { b: await pids("b"), c: await pids("c") };
  const startsBefore: Record<string, number> = { b1: (await starts("b", "b1")) + 1, b2: (await starts("b", "b2")) + 1 };
  const args = ["roll", "--host", "b,c", "--min-healthy-time", "1.5", "--healthy-deadline", "8", "--json"];
  const record = path.join(fleet.driver.home, ".local/state/agent-profiles/fleet-roll.json");
  const run = spawnCli(fleet.driver, args, { AP_SSH_CONFIG: fleet.sshConfig });
  await waitFor("b rolling in the fleet record", async () => /"name": "b",\s*"state": "rolling"/.test(await fs.readFile(record, "utf8").catch(() => "")), 90_000);
  // The connection to b goes: its master ends, and with it the session the roll runs in.
  const cut = await fleet.ssh("b", [], { sshOptions: ["-o", `ControlPath=${fleet.driver.env.XDG_RUNTIME_DIR}/agent-profiles/ssh/%C`, "-O", "exit"] });
  assert.equal(cut.code, 0, cut.stderr);
  const r = await run.done;
  assert.equal(r.code, 13, r.stdout + r.stderr);
  const s = JSON.parse(r.stdout) as { hosts: { host: string; state: string }[] };
  assert.deepEqual(s.hosts.map((h) => `${h.host} ${h.state}`), ["b unreachable", "c not-reached"]);
  assert.match(r.stderr, /host b did not answer/);
  assert.deepEqual(await pids("c"), before.c, "c was restarted");
  const again = await drive(args);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const after = { b: await pids("b"), c: await pids("c") };
  for (const h of ["b", "c"] as const) for (const p of Object.keys(before[h])) assert.notEqual(after[h][p], before[h][p], `${p} was not rolled`);
  for (const p of ["b1", "b2"]) assert.equal(await starts("b", p), startsBefore[p], `${p} started ${(await starts("b", p)) - startsBefore[p]! + 1} times`);
});

test("a manifest across hosts: export merges the hosts' own ([host NAME] for what differs, hosts = for who runs what); plan and apply send each host its part", async () => {
  const exported = await drive(["export", "--host", "a,b"]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /\[host a\]\nrange = 23000-23019/);
  assert.match(exported.stdout, /\[host b\]\nrange = 23020-23039/);
  assert.match(exported.stdout, /\[profile a1\]\nhosts = a\n/);
  assert.match(exported.stdout, /\[profile b2\]\nhosts = b\n/);
  // Add one profile to both hosts (no hosts line) and one to b alone.
  const file = path.join(fleet.driver.home, "fleet.ini");
  await fs.writeFile(file, `${exported.stdout}\n[profile both]\nMODEL = m1\n\n[profile onlyb]\nhosts = b\n`);
  await fs.chown(file, fleet.driver.uid, fleet.driver.gid);
  const before = { a: await pids("a"), b: await pids("b") };
  const plan = await drive(["plan", "-f", file, "--host", "a,b"]);
  assert.equal(plan.code, 16, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /== a \(exit 16\) ==[\s\S]*add\s+both/);
  assert.match(plan.stdout, /== b \(exit 16\) ==[\s\S]*add\s+onlyb/);
  assert.doesNotMatch(plan.stdout.split("== b")[0]!, /onlyb/);
  const refused = await drive(["apply", "-f", file, "--host", "a,b"]);
  assert.equal(refused.code, 2, refused.stderr);
  const apply = await drive(["apply", "-f", file, "--host", "a,b", "--yes", ...FAST]);
  assert.equal(apply.code, 0, apply.stdout + apply.stderr);
  assert.deepEqual(Object.keys(await pids("a")).sort(), ["a1", "a2", "both"]);
  assert.deepEqual(Object.keys(await pids("b")).sort(), ["b1", "b2", "both", "onlyb"]);
  // Nothing else was restarted; a second plan has nothing to do.
  for (const h of ["a", "b"] as const) for (const [p, pid] of Object.entries(before[h])) assert.equal((await pids(h))[p], pid, `${h}/${p} was restarted`);
  const again = await drive(["plan", "-f", file, "--host", "a,b"]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

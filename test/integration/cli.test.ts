import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";
import { snapshot } from "../helpers/fakes.js";

// Ports of this file only; another integration file runs beside it with its own range.
const RANGE = "18700-18719";
const EXPLICIT = 18642;

let sb: Sandbox;
let logDir: string;

async function profiles(args: string[], timeoutMs = 60_000) {
  return sb.profiles(args, { timeoutMs });
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function json<T>(out: { stdout: string }): T {
  return JSON.parse(out.stdout) as T;
}

before(async () => {
  sb = await startSandbox();
  logDir = path.join(sb.home, "logs");
});
after(async () => {
  await sb?.stop();
});

test("init installs the template and reports lingering", async () => {
  const r = await profiles(["init", "--range", RANGE, "--log-dir", logDir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const data = json<{ unitFile: string; execStart: string; linger: { enabled: boolean; command: string } }>(r);
  assert.equal(data.unitFile, path.join(sb.home, ".config/systemd/user/agent-gateway@.service"));
  assert.match(data.execStart, /^"\/.*node" "\/.*\/dist\/src\/gateway\/main\.js"/);
  // A lingering sandbox user on a systemd host (logind wrote the file), none in the namespace sandbox.
  const lingering = existsSync(`/var/lib/systemd/linger/${sb.user}`);
  assert.equal(data.linger.enabled, lingering);
  assert.equal(data.linger.command, lingering ? null : `sudo loginctl enable-linger ${sb.user}`);
  // Running it again is safe and keeps the range.
  const again = await profiles(["init"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`ports ${RANGE}`));
  assert.match(again.stdout, lingering ? new RegExp(`lingering is enabled for ${sb.user}`) : /lingering is NOT enabled/);
});

test("add: explicit and allocated ports, both active and answering /health", async () => {
  const a = await profiles(["add", "liam", "--port", String(EXPLICIT), "--env", "LOG_LEVEL=debug"]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /added liam: healthy on port 18642/);
  const b = await profiles(["add", "ops", "--json"]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(json<{ port: number }>(b).port, 18700);
  for (const [name, port] of [["liam", EXPLICIT], ["ops", 18700]] as const) {
    const h = await health(port);
    assert.equal(h.status, 200);
    assert.equal(h.body.profile, name);
    assert.equal(h.body.status, "ok");
  }
  const list = json<{ name: string; port: number; activeState: string; subState: string; pid: number; enabled: boolean; restarts: number }[]>(await profiles(["list", "--json"]));
  assert.deepEqual(
    list.map((p) => [p.name, p.port, p.activeState, p.subState, p.enabled, p.restarts]),
    [["liam", EXPLICIT, "active", "running", true, 0], ["ops", 18700, "active", "running", true, 0]],
  );
  for (const p of list) assert.ok(p.pid > 0);
  const file = path.join(sb.home, ".config/agent-profiles/profiles/liam/.env");
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.equal((await fs.stat(path.dirname(file))).mode & 0o777, 0o700);
  assert.equal((await fs.stat(file)).uid, sb.uid);
});

test("list and ls print from the fast bundle exactly what the full CLI prints (yargs parses the words once --verbose is among them)", async () => {
  const cache = path.join(sb.home, ".cache/agent-profiles");
  await fs.rm(cache, { recursive: true, force: true });
  const fast = await profiles(["list", "--json"]);
  assert.equal(fast.code, 0, fast.stderr);
  assert.ok((await fs.readdir(cache)).some((f) => f.startsWith("cli-fast-")), "the fast bundle ran (it made its code cache)");
  const full = await profiles(["list", "--json", "--verbose"]);
  assert.equal(full.code, 0, full.stderr);
  assert.deepEqual(json<unknown[]>(fast), json<unknown[]>(full));
  assert.equal(json<unknown[]>(fast).length, 2);
  const table = await profiles(["ls"]);
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout, (await profiles(["list", "--verbose"])).stdout);
  assert.match(table.stdout, /^NAME +PORT +STATE/);
  // Both bundles end in the one write that looks at its errno: a lost output exits 15, where it exited 0.
  for (const words of ["list --json", "list --json --verbose", "ls"]) {
    const lost = await toDevFull(words);
    assert.equal(lost.code, 15, `${words}: ${lost.stderr}`);
    assert.match(lost.stderr, /^profiles: cannot write the output to standard output: no space left on the device \(ENOSPC\)/, words);
  }
});

/** `profiles WORDS > /dev/full` as the sandbox's user. */
async function toDevFull(words: string) {
  // A deadline: `logs -f` that missed its refused write would follow on instead of ending.
  return sb.exec("bash", ["-c", `exec node ${path.join(sb.appDir, "dist/src/cli.cjs")} ${words} > /dev/full`], { timeoutMs: 60_000 });
}

test("port collisions: with another profile, and with a foreign listener; nothing written", async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(18710, "127.0.0.1", r));
  try {
    const before = await snapshot(path.join(sb.home, ".config"));
    const withProfile = await profiles(["add", "dup", "--port", String(EXPLICIT)]);
    assert.equal(withProfile.code, 5);
    assert.match(withProfile.stderr, /port 18642 is taken by profile "liam"/);
    const withListener = await profiles(["add", "dup", "--port", "18710"]);
    assert.equal(withListener.code, 5);
    // The listener is root's: a sandbox user cannot see which process it is.
    assert.match(withListener.stderr, /port 18710 is taken by another process/);
    assert.deepEqual(await snapshot(path.join(sb.home, ".config")), before);
  } finally {
    server.close();
  }
});

test("port collisions: a listener on IPv6 only is seen too; nothing written", async (t) => {
  // The port checks skip /proc/net/tcp6 only while the kernel counts no IPv6 TCP socket (sockstat6).
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port: 18711, host: "::1", ipv6Only: true }, resolve);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EADDRNOTAVAIL" && code !== "EAFNOSUPPORT") throw err;
    t.skip(`no IPv6 loopback on this host: ${code}`);
    return;
  }
  try {
    const before = await snapshot(path.join(sb.home, ".config"));
    const r = await profiles(["add", "dup6", "--port", "18711"]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /port 18711 is taken by another process/);
    assert.deepEqual(await snapshot(path.join(sb.home, ".config")), before);
  } finally {
    server.close();
  }
});

test("bad names and bad input: exit 2 with the rule, nothing written", async () => {
  const before = await snapshot(path.join(sb.home, ".config"));
  for (const name of ["../x", "a/b", "Liam", "", "sp ace", "żółw", "x".repeat(33)]) {
    const r = await profiles(["add", name]);
    assert.equal(r.code, 2, `${JSON.stringify(name)}: ${r.stderr}`);
    assert.match(r.stderr, /1-32 characters of a-z, 0-9, - and _/);
  }
  for (const args of [["add", "ok", "--port", "80"], ["add", "ok", "--env", "BAD"], ["add", "ok", "--bogus-flag"], ["remove", "nosuch"], ["add", "liam"]]) {
    const r = await profiles(args);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.ok([2, 3, 4].includes(r.code), `${args.join(" ")} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /^profiles: /);
  }
  assert.deepEqual(await snapshot(path.join(sb.home, ".config")), before);
});

test("stop, start and restart through the manager", async () => {
  const pidOf = async () => json<{ name: string; pid: number | null; activeState: string }[]>(await profiles(["list", "--json"])).find((p) => p.name === "ops")!;
  const first = await pidOf();
  const stop = await profiles(["stop", "ops"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await pidOf()).activeState, "inactive");
  await assert.rejects(health(18700));
  const start = await profiles(["start", "ops"]);
  assert.equal(start.code, 0, start.stderr);
  const second = await pidOf();
  assert.equal(second.activeState, "active");
  assert.notEqual(second.pid, first.pid);
  const restart = await profiles(["restart", "ops", "--json", "--verbose"]);
  assert.equal(restart.code, 0, restart.stderr);
  // --verbose: pino lines on stderr, the result alone on stdout.
  const logged = restart.stderr.trim().split("\n").map((l) => JSON.parse(l) as { msg: string; job?: string });
  assert.ok(logged.some((l) => l.msg === "restart job finished" && l.job === "done"), restart.stderr);
  assert.equal(json<{ ok: boolean }[]>(restart)[0]!.ok, true);
  const third = await pidOf();
  assert.notEqual(third.pid, second.pid);
  assert.equal((await health(18700)).status, 200);
  const st = await profiles(["status", "ops", "--json"]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(json<{ health: { ok: boolean } }>(st).health.ok, true);
});

test("the gateway refuses a public HOST without API_KEY: add fails with exit 7 and the reason", async () => {
  const r = await profiles(["add", "public", "--env", "HOST=0.0.0.0", "--wait", "10"]);
  assert.equal(r.code, 7, r.stdout + r.stderr);
  assert.match(r.stderr, /exited with status 78/);
  assert.match(r.stderr, /API_KEY/);
  const st = await profiles(["status", "public", "--json"]);
  assert.equal(st.code, 7);
  assert.equal(json<{ activeState: string; lastExit: string }>(st).lastExit, "exited 78");
  // With a key it comes up, and only /health is open.
  const rm = await profiles(["remove", "public", "--purge"]);
  assert.equal(rm.code, 0, rm.stderr);
  const ok = await profiles(["add", "public", "--env", "HOST=0.0.0.0", "--env", "API_KEY=k3y"]);
  assert.equal(ok.code, 0, ok.stderr);
  const port = json<{ name: string; port: number }[]>(await profiles(["list", "--json"])).find((p) => p.name === "public")!.port;
  assert.equal((await health(port)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 401);
  assert.equal((await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: "Bearer k3y" } })).status, 200);
});

test("parallel adds get distinct ports and all come up", async () => {
  const names = ["par1", "par2", "par3", "par4"];
  const results = await Promise.all(names.map((n) => profiles(["add", n, "--json"], 90_000)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const ports = results.map((r) => json<{ port: number }>(r).port);
  assert.equal(new Set(ports).size, names.length, `ports: ${ports}`);
  for (const p of ports) {
    assert.ok(p >= 18700 && p <= 18719, String(p));
    assert.equal((await health(p)).status, 200);
  }
});

test("remove keeps the .env in the state dir; --purge does not; the unit is gone", async () => {
  const r = await profiles(["remove", "liam", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const kept = json<{ keptEnv: string }>(r).keptEnv;
  assert.ok(kept.startsWith(path.join(sb.home, ".local/state/agent-profiles/removed/liam.")));
  assert.match(await fs.readFile(kept, "utf8"), /LOG_LEVEL="debug"/);
  await assert.rejects(health(EXPLICIT));
  const purge = await profiles(["remove", "par1", "--purge"]);
  assert.equal(purge.code, 0, purge.stderr);
  const names = json<{ name: string }[]>(await profiles(["list", "--json"])).map((p) => p.name);
  assert.deepEqual(names, ["ops", "par2", "par3", "par4", "public"]);
  await fs.access(path.join(sb.home, ".config/systemd/user/default.target.wants/agent-gateway@liam.service")).then(
    () => assert.fail("liam is still enabled"),
    () => {},
  );
});

test("a command whose output is lost (> /dev/full) still did its work, exits 15 and says so", async () => {
  const added = await toDevFull("add lost --json");
  assert.equal(added.code, 15, added.stderr);
  assert.match(added.stderr, /the command itself ran to its end/);
  const status = await profiles(["status", "lost", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(json<{ activeState: string }>(status).activeState, "active");
  const removed = await profiles(["remove", "lost", "--purge"]);
  assert.equal(removed.code, 0, removed.stderr);
  // Following a log into a full disk stops at the first refused write, where it followed on with its lines lost.
  // With --json too, said once: the error is that stdout failed, so no JSON of it is tried there.
  // So does `top` out of a terminal, which ended in exit 0.
  for (const words of ["logs ops -f", "logs ops -f --json", "top"]) {
    const followed = await toDevFull(words);
    assert.equal(followed.code, 15, followed.stderr);
    assert.match(followed.stderr, /^profiles: cannot write the output to standard output: no space left on the device \(ENOSPC\)\n {2}next: [^\n]*\n$/, words);
  }
});

test("--version prints the package's version from any directory", async () => {
  const pkg = JSON.parse(await fs.readFile(path.join(sb.appDir, "package.json"), "utf8")) as { version: string };
  const r = await profiles(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test("an unreachable manager: exit 10 naming the fix", async () => {
  const r = await sb.profiles(["list"], { env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" } });
  assert.equal(r.code, 10, r.stderr);
  assert.match(r.stderr, /cannot reach the systemd user manager at unix:path=\/nonexistent\/bus/);
  assert.match(r.stderr, /next: /);
});

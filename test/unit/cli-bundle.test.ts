import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { commands } from "../../src/commands/index.js";
import { ExitCode } from "../../src/errors.js";
import { GONE_READER } from "../helpers/gone-reader.js";

const CLI = fileURLToPath(new URL("../../src/cli.cjs", import.meta.url));
const run = promisify(execFile);

/** Help text as one line: wrapping may move words to the next line but must not cut one in two. */
async function helpOf(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args, "--help"], { env: { ...process.env, COLUMNS: "110" } });
  return stdout.replace(/\s+/g, " ");
}

test("--help lists every verb with its description whole", async () => {
  const help = await helpOf();
  for (const spec of commands) assert.ok(help.includes(spec.describe.replace(/\s+/g, " ")), `--help cuts or lacks: ${spec.describe}`);
});

test("each verb's --help keeps its options' descriptions whole", async () => {
  // Long descriptions are the ones a column-wrapping help cut mid-word.
  const init = await helpOf("init");
  for (const text of [
    "Variable that carries the listen host in each .env; the health probe goes there (default HOST)",
    "Seconds a stop waits for the gateway to exit before SIGKILL (TimeoutStopSec, default 15)",
  ]) {
    assert.ok(init.includes(text), `init --help cuts or lacks: ${text}`);
  }
});

test("--json errors name their type, as the bundled CLI reports them", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-bundle-"));
  try {
    const env = { ...process.env, XDG_CONFIG_HOME: path.join(home, "config"), XDG_STATE_HOME: path.join(home, "state"), XDG_RUNTIME_DIR: path.join(home, "run") };
    const failed = await run(process.execPath, [CLI, "add", "Bad Name!", "--json"], { env }).then(
      () => assert.fail("add of a bad name succeeded"),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(failed.code, ExitCode.usage);
    assert.equal((JSON.parse(failed.stdout) as { error: { type: string } }).error.type, "UsageError");
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("every error spells out its class's name (the bundle renames classes)", async () => {
  const errors = await import("../../src/errors.js");
  let checked = 0;
  for (const [exported, value] of Object.entries(errors)) {
    if (typeof value !== "function" || !(value.prototype instanceof errors.AppError || value === errors.AppError)) continue;
    const e = Reflect.construct(value, ["message", 1, "hint", 1000]) as Error;
    // A timed-out job is still a SystemdError to whatever reads the name.
    assert.equal(e.name, exported === "JobTimeoutError" ? "SystemdError" : exported, exported);
    checked++;
  }
  assert.ok(checked >= 15, `only ${checked} error classes found`);
});

test("completion: a bash script, and profile names after a verb that takes them", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-complete-"));
  try {
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, "config"), SHELL: "/bin/bash" };
    for (const n of ["liam", "leo", "ops"]) {
      await fs.mkdir(path.join(home, "config", "agent-profiles", "profiles", n), { recursive: true });
      await fs.writeFile(path.join(home, "config", "agent-profiles", "profiles", n, ".env"), "PORT=9000\n");
    }
    // A directory without a .env is no profile.
    await fs.mkdir(path.join(home, "config", "agent-profiles", "profiles", "lost"));
    const complete = async (...words: string[]) => (await run(process.execPath, [CLI, "--get-yargs-completions", ...words], { env })).stdout.split("\n").filter(Boolean);
    assert.deepEqual(await complete("start", "l"), ["leo", "liam"]);
    assert.ok((await complete("roll", "")).includes("ops"));
    assert.ok(!(await complete("list", "")).includes("ops"), "list takes no name");
    assert.ok((await complete("")).includes("rollback"), "verbs still complete");
    const script = (await run(process.execPath, [CLI, "completion"], { env })).stdout;
    assert.match(script, /complete -o bashdefault -o default -F _profiles_yargs_completions profiles/);
    assert.match(script, /profiles --get-yargs-completions/);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("the code cache: made at the first run (0600 in a 0700 dir), used after; a corrupt or unwritable one costs nothing", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-cache-"));
  try {
    // --help, not --version: the loader answers --version alone without running the bundle.
    const usage = async (cacheHome: string) => (await run(process.execPath, [CLI, "--help"], { env: { ...process.env, XDG_CACHE_HOME: cacheHome } })).stdout.split("\n")[0];
    const expected = "profiles <command> [options]";
    const dir = path.join(home, "agent-profiles");
    assert.equal(await usage(home), expected);
    const [made] = await fs.readdir(dir);
    assert.match(made ?? "", /^cli-v\d+\.\d+\.\d+-\d+-\d+\.v8$/);
    assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
    assert.equal((await fs.stat(path.join(dir, made!))).mode & 0o777, 0o600);
    const first = await fs.stat(path.join(dir, made!));
    assert.equal(await usage(home), expected);
    assert.equal((await fs.stat(path.join(dir, made!))).mtimeMs, first.mtimeMs, "a usable cache is not written again");
    await fs.writeFile(path.join(dir, made!), "not a code cache");
    assert.equal(await usage(home), expected);
    assert.notEqual(await fs.readFile(path.join(dir, made!), "utf8"), "not a code cache", "a rejected cache is made anew");
    assert.deepEqual((await fs.readdir(dir)).length, 1, "no temp file left");
    // A cache home that is a file: nothing can be written, the command still runs.
    await fs.writeFile(path.join(home, "file"), "");
    assert.equal(await usage(path.join(home, "file")), expected);
    // Nor under /proc, where node's recursive mkdir looped forever after the output (a core at 100 %).
    const proc = await run(process.execPath, [CLI, "--help"], { env: { ...process.env, XDG_CACHE_HOME: "/proc" }, timeout: 60_000 });
    assert.equal(proc.stdout.split("\n")[0], expected);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("--version alone is answered without the bundle, and matches what yargs prints with other words", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-version-"));
  try {
    const env = { ...process.env, XDG_CACHE_HOME: home };
    const expected = JSON.parse(await fs.readFile(new URL("../../../package.json", import.meta.url), "utf8")).version as string;
    assert.equal((await run(process.execPath, [CLI, "--version"], { cwd: "/", env })).stdout, `${expected}\n`);
    assert.deepEqual(await fs.readdir(home), [], "the bundle ran (it made a code cache)");
    // With another word yargs answers it, from the bundle: the same text.
    assert.equal((await run(process.execPath, [CLI, "--version", "--verbose"], { cwd: "/", env })).stdout, `${expected}\n`);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("the code takes zod only as zod/mini (the CLI through schema.ts): the full API is not tree-shaken, and one import of it made the bundle 430 KB larger and start-up ~40 ms slower", async () => {
  const src = fileURLToPath(new URL("../../../src/", import.meta.url));
  const offenders: string[] = [];
  for (const file of await fs.readdir(src, { recursive: true })) {
    if (!file.endsWith(".ts") || file === "schema.ts") continue;
    const text = await fs.readFile(path.join(src, file), "utf8");
    if (/(from\s+|require\(\s*|import\(\s*)["']zod(?!\/mini["'])/.test(text)) offenders.push(file);
  }
  assert.deepEqual(offenders, [], "import from schema.ts (zod/mini) instead");
  // The bundle as built: zod's own part of it stays small (35 KB when this was written).
  const bundle = await fs.readFile(fileURLToPath(new URL("../../src/cli-main.cjs", import.meta.url)), "utf8");
  assert.ok(bundle.length < 900_000, `the CLI bundle is ${bundle.length} bytes`);
});

test("`list --json` runs from the fast bundle (cli-fast.cjs), and what it prints and exits with is what the full CLI gives", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-fast-"));
  try {
    const env = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, "cache"), XDG_CONFIG_HOME: path.join(home, "config"), XDG_STATE_HOME: path.join(home, "state") };
    const exit = (args: string[], extra: Record<string, string> = {}) =>
      run(process.execPath, [CLI, ...args], { env: { ...env, ...extra } }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
      );
    // Not initialised here: exit 8 and its error, from either bundle (--verbose sends the words to yargs).
    const fast = await exit(["list", "--json"]);
    assert.deepEqual(await fs.readdir(path.join(home, "cache", "agent-profiles")).then((f) => f.map((n) => n.replace(/-v.*/, ""))), ["cli-fast"]);
    const full = await exit(["list", "--json", "--verbose"]);
    assert.equal(fast.code, ExitCode.notInitialised);
    assert.deepEqual(fast, full);
    assert.match(await fs.readdir(path.join(home, "cache", "agent-profiles")).then((f) => f.join(" ")), /^cli-fast-\S+ cli-v\S+$/);
    // A driving `profiles --host` of another version is refused the same way.
    const mismatch = await exit(["ls", "--json"], { AP_FLEET_VERSION: "0.0.0-other" });
    assert.notEqual(mismatch.code, 0);
    assert.deepEqual(mismatch, await exit(["ls", "--json", "--verbose"], { AP_FLEET_VERSION: "0.0.0-other" }));
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("the fast bundle holds neither yargs nor the other verbs, nor either bundle xml2js (never used: src/systemd/no-introspection.ts)", async () => {
  const fast = await fs.readFile(fileURLToPath(new URL("../../src/cli-fast.cjs", import.meta.url)), "utf8");
  const full = await fs.readFile(fileURLToPath(new URL("../../src/cli-main.cjs", import.meta.url)), "utf8");
  // Strings each would carry in: yargs' own messages, a verb's description, xmlbuilder's and sax's.
  assert.match(full, /Not enough non-option arguments/);
  assert.doesNotMatch(fast, /Not enough non-option arguments/);
  assert.doesNotMatch(fast, /Restart profiles in batches/);
  for (const bundle of [fast, full]) assert.doesNotMatch(bundle, /xmlbuilder|Invalid character in entity name/);
  assert.ok(fast.length < full.length / 2, `the fast bundle is ${fast.length} bytes, the full one ${full.length}`);
});

/** Runs the CLI with its stdout on `stdout` (an open fd, or "epipe": a pipe whose reader has gone); its exit code and stderr. */
async function runTo(stdout: number | "epipe", args: string[]): Promise<{ code: number | null; stderr: string }> {
  const [cmd, argv] = stdout === "epipe" ? ["bash", ["-c", GONE_READER, "bash", process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  const child = spawn(cmd as string, argv as string[], { stdio: ["ignore", stdout === "epipe" ? "ignore" : stdout, "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stderr };
}

test("output that standard output refuses (> /dev/full) exits 15 and says so, where it exited 0 or crashed; a reader that has gone (EPIPE) is quiet", async () => {
  const full = await fs.open("/dev/full", "w");
  try {
    // --version is written by the loader, `sweep --print-cron` (which reads no config) by the CLI's one exit
    // path, and --help by the same path, from what yargs hands back instead of printing it.
    for (const args of [["--version"], ["sweep", "--print-cron"], ["--help"]]) {
      const lost = await runTo(full.fd, args);
      assert.equal(lost.code, ExitCode.fileSystem, `${args.join(" ")}: ${lost.stderr}`);
      assert.match(lost.stderr, /^profiles: cannot write the output to standard output: no space left on the device \(ENOSPC\)/);
      assert.match(lost.stderr, /\n {2}next: free space where standard output goes/);
      assert.doesNotMatch(lost.stderr, /\bat |node:/, "a stack trace");
      const gone = await runTo("epipe", args);
      assert.deepEqual(gone, { code: ExitCode.ok, stderr: "" }, args.join(" "));
    }
    // An error's JSON refused: said on stderr beside the error itself, whose exit code stays.
    const failed = await runTo(full.fd, ["set", "--json"]);
    assert.equal(failed.code, ExitCode.usage, failed.stderr);
    assert.match(failed.stderr, /^profiles: Not enough non-option arguments: got 0, need at least 1\n {2}next: .*\nprofiles: cannot write the output to standard output: no space left on the device \(ENOSPC\)\n/);
  } finally {
    await full.close();
  }
});

/**
 * Perl (Debian's perl-base is essential) runs the CLI with its stdout on a non-blocking pipe that is
 * already full, so the CLI's own write gets EAGAIN: a preload says so on stderr (fs.writeSync seen
 * throwing it), and only then is the pipe read. Prints what the CLI wrote, exits with its code.
 * FREE=N: N bytes are read off the full pipe first, so the CLI's first write goes in partly (the preload
 * says PARTIAL) and the next gets EAGAIN.
 */
const FULL_NONBLOCKING_PIPE = String.raw`
use strict; use Fcntl;
pipe(my $r, my $w) or die "pipe: $!";
pipe(my $er, my $ew) or die "pipe: $!";
fcntl($w, F_SETFL, fcntl($w, F_GETFL, 0) | O_NONBLOCK) or die "fcntl: $!";
my $filled = 0;
while (1) { my $n = syswrite($w, "x" x 4096); last unless defined $n; $filled += $n; }
if ($ENV{FREE}) { $filled -= sysread($r, my $buf, $ENV{FREE}); }
my $pid = fork() // die "fork: $!";
if ($pid == 0) { close $r; close $er; open(STDOUT, ">&", $w) or die; open(STDERR, ">&", $ew) or die; exec @ARGV or die "exec: $!"; }
close $w; close $ew;
my $want = $ENV{FREE} ? "PARTIAL\nEAGAIN\n" : "EAGAIN\n";
my $said = "";
while (length($said) < length($want)) { my $line = <$er>; last unless defined $line; $said .= $line; }
if ($said ne $want) { print STDERR "the CLI's writes did not go as planned ($want): $said"; exit 99; }
# READER=gone: the reader leaves instead of reading (the CLI's queued write then gets EPIPE).
if (($ENV{READER} // "") eq "gone") { close $r; print STDERR do { local $/; <$er> } // ""; waitpid($pid, 0); exit($? >> 8); }
my $all = do { local $/; <$r> };
waitpid($pid, 0);
print STDOUT substr($all, $filled);
exit($? >> 8);
`;

test("output to a full non-blocking pipe (EAGAIN) waits for the reader and is written whole; a reader that leaves meanwhile is quiet", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-eagain-"));
  try {
    const preload = path.join(dir, "eagain.cjs");
    await fs.writeFile(preload, `const fs = require("node:fs"); const write = fs.writeSync;
fs.writeSync = function (fd, buf, off, ...rest) {
  try {
    const n = write.call(fs, fd, buf, off, ...rest);
    if (fd === 1 && typeof buf !== "string" && n < buf.length - (off ?? 0)) write.call(fs, 2, "PARTIAL\\n");
    return n;
  } catch (e) { if (fd === 1 && e.code === "EAGAIN") write.call(fs, 2, "EAGAIN\\n"); throw e; }
};\n`);
    for (const args of [["--version"], ["sweep", "--print-cron"]]) {
      const expected = (await run(process.execPath, [CLI, ...args])).stdout;
      const { stdout } = await run("perl", ["-e", FULL_NONBLOCKING_PIPE, process.execPath, "--require", preload, CLI, ...args]);
      assert.equal(stdout, expected, args.join(" "));
      // The reader gone while the write waits: quiet, exit 0 (the 'error' after the write's callback once crashed it).
      const gone = await run("perl", ["-e", FULL_NONBLOCKING_PIPE, process.execPath, "--require", preload, CLI, ...args], { env: { ...process.env, READER: "gone" } });
      assert.equal(gone.stderr, "", args.join(" "));
    }
    // Part of the output taken by the pipe, the rest refused: the rest follows, nothing written twice.
    const help = (await run(process.execPath, [CLI, "--help"])).stdout;
    assert.ok(help.length > 4096, "--help fills more than the one page freed");
    const partly = await run("perl", ["-e", FULL_NONBLOCKING_PIPE, process.execPath, "--require", preload, CLI, "--help"], { env: { ...process.env, FREE: "4096" } });
    assert.equal(partly.stdout, help);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("the bin (cli.cjs) starts without node's ES module loader; cli.js, which earlier sweep timers name, runs the same CLI", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-loader-"));
  try {
    const probe = path.join(dir, "modules.cjs");
    // Written to fd 2 itself: process.stderr on a pipe would load net before the list is read.
    await fs.writeFile(probe, "process.on('exit', () => require('node:fs').writeSync(2, JSON.stringify(process.moduleLoadList)));\n");
    const loaded = async (script: string) => {
      const { stdout, stderr } = await run(process.execPath, ["--require", probe, script, "--version"]);
      return { stdout, modules: JSON.parse(stderr) as string[] };
    };
    const oldBin = fileURLToPath(new URL("../../src/cli.js", import.meta.url));
    const bin = await loaded(CLI);
    assert.ok(!bin.modules.some((m) => m.includes("esm/module_job")), "cli.cjs went through the ES module loader");
    // stdout is a pipe here: --version alone writes its line without process.stdout, which loads net.
    assert.ok(!bin.modules.includes("NativeModule net"), "--version loaded net");
    const { stderr: viaYargs } = await run(process.execPath, ["--require", probe, CLI, "--version", "--verbose"]);
    assert.ok((JSON.parse(viaYargs) as string[]).includes("NativeModule net"), "the check above cannot see net loaded");
    const old = await loaded(oldBin);
    assert.ok(old.modules.some((m) => m.includes("esm/module_job")), "the check above cannot tell the loaders apart");
    assert.equal(old.stdout, bin.stdout);
    assert.match((await run(process.execPath, [oldBin, "--help"])).stdout, /^profiles <command> \[options\]/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("an error before the parser ran is JSON for --json in each of its spellings, and text after --no-json", async (t) => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-json-"));
  t.after(() => fs.rm(home, { recursive: true, force: true }));
  const env = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, "cache") };
  for (const [words, asJson] of [[["list", "--bogus", "--json=true"], true], [["list", "--bogus", "--json"], true], [["list", "--bogus", "--json", "--no-json"], false], [["list", "--bogus", "--json=false"], false], [["list", "--json", "false", "--bogus"], false]] as const) {
    const r = spawnSync(process.execPath, [CLI, ...words], { env, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 2, words.join(" "));
    if (asJson) assert.equal((JSON.parse(r.stdout) as { error: { message: string } }).error.message, "Unknown argument: bogus", words.join(" "));
    else assert.deepEqual([r.stdout, r.stderr.split("\n")[0]], ["", "profiles: Unknown argument: bogus"], words.join(" "));
  }
});

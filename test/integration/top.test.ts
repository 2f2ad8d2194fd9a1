import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { shellWord } from "../../src/render/shell.js";
import { hasStopped } from "../helpers/proc-readings.js";
import { asUserArgv, spawnCli, type Sandbox } from "../helpers/sandbox.js";
import { Terminal } from "../helpers/tmux.js";
import { initialisedSandbox } from "../reliability/util.js";

// Ports of this file only: 19320-19399.
const RANGE = "19320-19339";
const NAMES = ["alpha", "bravo", "charlie"];

let sb: Sandbox;
const profiles = (args: string[], timeoutMs = 60_000) => sb.profiles(args, { timeoutMs });

interface Row {
  name: string;
  port: number | null;
  activeState: string;
  subState: string;
  pid: number | null;
  restarts: number;
  memoryBytes: number | null;
  memorySource: string | null;
  cpuPercent: number | null;
  health: { ok: boolean; reason: string } | null;
  pendingRestart: boolean | null;
}

before(async () => {
  sb = await initialisedSandbox(RANGE, NAMES);
});
after(async () => {
  await sb?.stop();
});

/** The profile names in the order the table lists them, from a screen or plain output. */
function order(text: string): string[] {
  return text.split("\n").map((l) => l.split(/\s+/)[0]!).filter((w) => NAMES.includes(w));
}

test("top --once prints every profile with its port, state, PID, memory and CPU; --json the rows", async () => {
  const r = await profiles(["top", "--once"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+PORT\s+STATE\s+HEALTH\s+PID\s+UPTIME\s+RESTARTS\s+MEM\s+CPU%\s+PENDING$/m);
  for (const [i, n] of NAMES.entries()) assert.match(r.stdout, new RegExp(`^${n}\\s+${19320 + i}\\s+active/running\\s+ok\\s+\\d+\\s+\\d+s\\s+0\\s+[\\d.]+[KMG]\\s+[\\d.]+\\s+no$`, "m"));
  assert.doesNotMatch(r.stdout, /\u001b/);

  const j = await profiles(["top", "--once", "--json", "--sort", "port", "--filter", "a"]);
  assert.equal(j.code, 0, j.stderr);
  const rows = JSON.parse(j.stdout) as Row[];
  // "a" is in alpha, bravo and charlie, and in every state ("active"): the filter keeps all three.
  assert.deepEqual(rows.map((x) => [x.name, x.port, x.activeState, x.subState, x.restarts, x.health?.ok, x.pendingRestart]), NAMES.map((n, i) => [n, 19320 + i, "active", "running", 0, true, false]));
  for (const x of rows) {
    assert.ok(x.pid !== null && x.pid > 0, JSON.stringify(x));
    assert.ok(x.memoryBytes !== null && x.memoryBytes > 1_000_000, `memory of ${x.name}: ${x.memoryBytes} (${x.memorySource})`);
    assert.ok(x.cpuPercent !== null && x.cpuPercent >= 0, `cpu of ${x.name}: ${x.cpuPercent}`);
  }
  const narrow = JSON.parse((await profiles(["top", "--once", "--json", "--filter", "CHAR"])).stdout) as Row[];
  assert.deepEqual(narrow.map((x) => x.name), ["charlie"]);
});

test("top refuses bad input with exit 2, naming it", async () => {
  for (const [args, re] of [
    [["top", "--sort", "bogus"], /--sort "bogus" is not a sort key/],
    [["top", "--interval", "0"], /--interval "0" must be a number of seconds from 0.1 to 3600/],
    [["top", "--interval", "1e-9"], /--interval "1e-9" must be a number of seconds from 0.1/],
    [["top", "--interval", "1e12"], /--interval "1000000000000" must be a number of seconds from 0.1 to 3600/],
    [["top", "--json"], /--json needs --once/],
    [["top", "extra"], /Unknown argument/],
  ] as const) {
    const r = await profiles([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test("top without a terminal prints plain tables, no escape codes, and stops on SIGTERM with exit 0", async () => {
  const top = spawnCli(sb, ["top", "--interval", "1", "--sort", "n"]);
  // Two tables: the first, and one after a reading changed what it shows (uptime, CPU).
  await top.until(/charlie[\s\S]*NAME[\s\S]*charlie/, 30_000);
  process.kill(top.pid, "SIGTERM");
  const done = await top.done;
  assert.equal(done.code, 0, done.stderr);
  assert.doesNotMatch(done.stdout, /\u001b/);
  assert.match(done.stdout, /^profiles top {2}\d\d:\d\d:\d\d {2}3 profile\(s\) {2}sort: name$/m);
  assert.deepEqual(order(done.stdout.split("\n\n")[0]!), NAMES);
});

test("top in a terminal: every profile, a stop, an add and a remove shown from the manager's signals, sort keys, the filter, q restores the terminal", async () => {
  // A long interval: nothing but the manager's signals can show the stop within the deadline.
  const cli = path.join(sb.appDir, "dist", "src", "cli.cjs");
  // After top: its exit status and the terminal's modes, then a program that keeps the pane (and its cursor) alive.
  const script = `node ${shellWord(cli)} top --interval 600; echo "top exited $?"; stty -a; echo stty-done; exec cat`;
  const term = new Terminal(asUserArgv(sb, ["sh", "-c", script]));
  try {
    let screen = await term.until((s) => NAMES.every((n, i) => new RegExp(`^${n}\\s+${19320 + i}\\s+active/running\\s+ok\\s`, "m").test(s)), "three healthy profiles");
    assert.equal(term.format("#{alternate_on}"), "1");
    assert.deepEqual(order(screen), NAMES);

    // A set without --restart sends no signal, and the interval is 600 s: the watch of its .env shows it pending.
    const set = await profiles(["set", "alpha", "TOP_PENDING=1"]);
    assert.equal(set.code, 0, set.stderr);
    await term.until((s) => /^alpha\s+19320\s+active\/running\s.*\syes$/m.test(s), "alpha pending a restart", 10_000);
    const restart = await profiles(["restart", "alpha"]);
    assert.equal(restart.code, 0, restart.stderr);
    await term.until((s) => /^alpha\s+19320\s+active\/running\s.*\sno$/m.test(s), "alpha restarted, no longer pending", 10_000);

    const stop = await profiles(["stop", "bravo"]);
    assert.equal(stop.code, 0, stop.stderr);
    screen = await term.until((s) => /^bravo\s+19321\s+inactive\/dead\s+-\s+-\s/m.test(s), "bravo inactive", 10_000);

    // A profile added meanwhile appears (UnitNew names a unit of no row yet), and goes once removed.
    const added = await profiles(["add", "delta"]);
    assert.equal(added.code, 0, added.stderr);
    await term.until((s) => /^delta\s+19323\s+active\/running\s/m.test(s) && /4 profile\(s\)/.test(s), "delta added", 10_000);
    const removed = await profiles(["remove", "delta", "--purge"]);
    assert.equal(removed.code, 0, removed.stderr);
    await term.until((s) => !/^delta\s/m.test(s) && /3 profile\(s\)/.test(s), "delta removed", 10_000);

    // s: by state, "active/running" before "inactive/dead"; n: by name again.
    term.send("s");
    await term.until((s) => order(s).join() === "alpha,charlie,bravo" && /sort: state/.test(s), "sorted by state");
    term.send("n");
    await term.until((s) => order(s).join() === "alpha,bravo,charlie" && /sort: name/.test(s), "sorted by name");

    term.send("/");
    term.send("char", true);
    await term.until((s) => /filter: char_/.test(s), "the filter being typed");
    term.send("Enter");
    screen = await term.until((s) => order(s).join() === "charlie" && /1 of 3 profile\(s\)/.test(s), "only charlie");

    term.send("q");
    screen = await term.until((s) => /stty-done/.test(s), "top gone");
    assert.match(screen, /top exited 0/);
    assert.equal(term.format("#{alternate_on}"), "0", "the alternate screen was left");
    assert.equal(term.format("#{cursor_flag}"), "1", "the cursor is shown again");
    // Raw mode off: the terminal reads lines and echoes again.
    assert.match(screen, /(^|\s)icanon(\s|$)/m);
    assert.match(screen, /(^|\s)echo(\s|$)/m);
    assert.doesNotMatch(screen, /NAME\s+PORT\s+STATE/, "no frame of top left on the normal screen");
  } finally {
    term.close();
    await profiles(["start", "bravo"]);
  }
});

/** The PID of the sandbox user's `profiles top`, as pgrep finds it; null when none runs. */
function topPid(): number | null {
  // Not the sh that runs it, whose command line holds these words too.
  const r = spawnSync("pgrep", ["-u", String(sb.uid), "-f", "^node [^ ]*cli\\.cjs top$"], { encoding: "utf8" });
  const pids = r.stdout.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
  return pids.length === 1 ? pids[0]! : null;
}

test("top in a terminal: Ctrl-C and SIGTERM end it with exit 0 and the terminal restored; NO_COLOR leaves its colours out", async () => {
  const cli = shellWord(path.join(sb.appDir, "dist", "src", "cli.cjs"));
  const script = `node ${cli} top; echo "first exited $?"; NO_COLOR=1 node ${cli} top; echo "second exited $?"; stty -a; echo stty-done; exec cat`;
  const term = new Terminal(asUserArgv(sb, ["sh", "-c", script]));
  const shown = (s: string) => /^charlie\s+19322\s+active\/running\s+ok/m.test(s);
  try {
    await term.until(shown, "the first top");
    // Colours on: the header in reverse video.
    assert.match(term.screen(true), /\u001b\[7m/);
    const first = topPid();
    term.send("C-c");
    await term.until((s) => shown(s) && ![null, first].includes(topPid()), "the second top, after Ctrl-C ended the first");
    assert.doesNotMatch(term.screen(true), /\u001b\[(7|31|32|2)m/, "NO_COLOR: no colour or attribute");
    process.kill(topPid()!, "SIGTERM");
    const screen = await term.until((s) => /stty-done/.test(s), "the second top gone");
    assert.match(screen, /first exited 0[\s\S]*second exited 0/);
    assert.equal(term.format("#{alternate_on}"), "0");
    assert.equal(term.format("#{cursor_flag}"), "1");
    assert.match(screen, /(^|\s)icanon(\s|$)/m);
    assert.match(screen, /(^|\s)echo(\s|$)/m);
  } finally {
    term.close();
  }
});

// Last: it stops the user manager.
test("top in a terminal whose manager goes away: exit 10 naming it, the terminal restored", async () => {
  const cli = path.join(sb.appDir, "dist", "src", "cli.cjs");
  const term = new Terminal(asUserArgv(sb, ["sh", "-c", `node ${shellWord(cli)} top; echo "top exited $?"; stty -a; echo stty-done; exec cat`]));
  try {
    await term.until((s) => /^charlie\s+19322\s+active\/running/m.test(s), "charlie running");
    const old = sb.managerPid;
    process.kill(old, "SIGTERM");
    const screen = await term.until((s) => /stty-done/.test(s), "top gone", 30_000);
    assert.match(screen, /profiles: .*(user manager|bus)[\s\S]*top exited 10/);
    assert.equal(term.format("#{alternate_on}"), "0");
    assert.equal(term.format("#{cursor_flag}"), "1");
    assert.match(screen, /(^|\s)icanon(\s|$)/m);
    const deadline = Date.now() + 30_000;
    while (!hasStopped(old)) {
      assert.ok(Date.now() < deadline, "the manager did not exit on SIGTERM");
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    term.close();
  }
});

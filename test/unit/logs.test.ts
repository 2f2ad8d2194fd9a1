import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import logs from "../../src/commands/logs.js";
import { chooseSource, parseLineCount } from "../../src/core/logs/source.js";
import { tailFile } from "../../src/core/logs/tail-file.js";
import { followFile } from "../../src/core/logs/follow.js";
import { findJournal, journalArgs, ownUid, runJournal, shortLine, showJournal, unitMatches } from "../../src/core/logs/journal.js";
import { journalEntries, journalTail, markOutput, outputSince, type JournalEntry } from "../../src/core/logs/since.js";
import { DEFAULT_CONFIG } from "../../src/config.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { resolvePaths } from "../../src/paths.js";
import { createProfile } from "../../src/store/profiles.js";
import { fakeWorld, inTempDir, snapshot } from "../helpers/fakes.js";

async function tmp(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "ap-logs-"));
}

function hasCode(code: number, message?: RegExp) {
  return (err: unknown) => err instanceof AppError && err.exitCode === code && (!message || message.test(err.message + " " + (err.hint ?? "")));
}

/** Collects what followFile writes; `until` resolves once the text contains a string, or fails at a deadline. */
function collector() {
  let text = "";
  const waiters: { want: string; resolve(): void }[] = [];
  return {
    get text() {
      return text;
    },
    notices: [] as string[],
    async write(s: string) {
      text += s;
      for (const w of waiters.filter((w) => text.includes(w.want))) w.resolve();
    },
    until(want: string, ms = 5000): Promise<void> {
      if (text.includes(want)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(want)} within ${ms} ms; got ${JSON.stringify(text)}`)), ms);
        waiters.push({ want, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

test("logs: -n must be a positive whole number", () => {
  assert.equal(parseLineCount("1"), 1);
  assert.equal(parseLineCount(50), 50);
  for (const bad of ["0", "-1", "1.5", "abc", "", "12ab", " 3", "9999999999"]) {
    assert.throws(() => parseLineCount(bad), hasCode(ExitCode.usage, /positive whole number/), bad);
  }
});

test("tailFile: the last n lines, with or without a final newline, across chunks and multibyte characters", async () => {
  const dir = await tmp();
  try {
    const file = path.join(dir, "x.log");
    assert.equal(await tailFile(file, 5), null);
    await fs.writeFile(file, "");
    assert.deepEqual((await tailFile(file, 5))!.lines, []);
    await fs.writeFile(file, "one\ntwo\nthree\n");
    assert.deepEqual((await tailFile(file, 2))!.lines, ["two", "three"]);
    assert.deepEqual((await tailFile(file, 10))!.lines, ["one", "two", "three"]);
    await fs.writeFile(file, "one\ntwo\npart");
    const t = (await tailFile(file, 2))!;
    assert.deepEqual([t.lines, t.endsWithNewline, t.size], [["two", "part"], false, 12]);
    // 200 000 lines of "żółw N" (multibyte), far more than one 64 KiB chunk.
    const many = Array.from({ length: 200_000 }, (_, i) => `żółw ${i}`);
    await fs.writeFile(file, many.join("\n") + "\n");
    assert.deepEqual((await tailFile(file, 3))!.lines, ["żółw 199997", "żółw 199998", "żółw 199999"]);
    assert.deepEqual((await tailFile(file, 20_000))!.lines, many.slice(-20_000));
    assert.equal((await tailFile(file, 1))!.size, (await fs.stat(file)).size);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("chooseSource: the log dir first, then journald, else nothing to show naming `init --log-dir`", () => {
  const paths = resolvePaths({ HOME: "/home/u" });
  assert.deepEqual(chooseSource({ ...DEFAULT_CONFIG, logDir: "/var/log/gw" }, paths, "liam", "/usr/bin/journalctl"), { kind: "file", file: "/var/log/gw/liam.log" });
  assert.deepEqual(chooseSource(DEFAULT_CONFIG, paths, "liam", "/usr/bin/journalctl"), { kind: "journal", unit: "agent-gateway@liam.service", journalctl: "/usr/bin/journalctl" });
  assert.throws(
    () => chooseSource(DEFAULT_CONFIG, paths, "liam", null),
    hasCode(ExitCode.failed, /no journald.*profiles init --log-dir \/home\/u\/\.local\/state\/agent-profiles\/logs.*profiles restart liam/),
  );
  const by = (unit: string) => unitMatches([unit], ownUid());
  assert.deepEqual(journalArgs("agent-gateway@liam.service", 5, true), ["--user", ...by("agent-gateway@liam.service"), "-n", "5", "-f", "-o", "json", "--all", "--no-pager"]);
  assert.deepEqual(journalArgs("u", 1, false), ["--user", ...by("u"), "-n", "1", "-o", "json", "--all", "--no-pager"]);
  assert.deepEqual(journalArgs("u", 50, true, 1_796_108_311_983), ["--user", ...by("u"), "--since=@1796108311.983", "-f", "-o", "json", "--all", "--no-pager"]);
});

test("findJournal: only where journald's socket is a socket and journalctl is on PATH", async () => {
  const dir = await tmp();
  const server = net.createServer();
  try {
    const socket = path.join(dir, "socket");
    const bin = path.join(dir, "bin");
    await fs.mkdir(bin);
    await fs.writeFile(path.join(bin, "journalctl"), "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(await findJournal({ PATH: bin }, socket), null);
    await fs.writeFile(socket, "");
    assert.equal(await findJournal({ PATH: bin }, socket), null, "a plain file is no socket");
    await fs.rm(socket);
    await new Promise<void>((r) => server.listen(socket, r));
    assert.equal(await findJournal({ PATH: bin }, socket), path.join(bin, "journalctl"));
    assert.equal(await findJournal({ PATH: dir }, socket), null);
  } finally {
    server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("runJournal: journalctl's exit code comes back; an abort stops it", async () => {
  const dir = await tmp();
  try {
    const out = path.join(dir, "args");
    const fake = path.join(dir, "journalctl");
    await fs.writeFile(fake, `#!/bin/sh\necho "$@" > ${out}\nexit 3\n`, { mode: 0o755 });
    const never = new AbortController();
    const sink = { text: "", async write(t: string) { sink.text += t; }, async end() {} };
    assert.equal(await runJournal(fake, journalArgs("agent-gateway@liam.service", 5, false), {}, never.signal, sink), 3);
    assert.equal(await fs.readFile(out, "utf8"), `--user ${unitMatches(["agent-gateway@liam.service"], ownUid()).join(" ")} -n 5 -o json --all --no-pager\n`);
    // A follower that never ends by itself, as `journalctl -f` does.
    const follower = path.join(dir, "follower");
    await fs.writeFile(follower, "#!/bin/sh\nexec tail -f /dev/null\n", { mode: 0o755 });
    const stop = new AbortController();
    const running = runJournal(follower, [], {}, stop.signal, sink);
    stop.abort();
    assert.equal(await running, 1);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("followFile: appends, truncation, rotation, a file that appears later; abort resolves", async () => {
  const dir = await tmp();
  const controller = new AbortController();
  try {
    const file = path.join(dir, "p.log");
    await fs.writeFile(file, "old line\n");
    const tail = await tailFile(file, 10);
    const out = collector();
    const done = followFile(file, { from: tail, write: (s) => out.write(s), notice: (m) => out.notices.push(m), signal: controller.signal, pollMs: 5000 });
    await fs.appendFile(file, "first ");
    await fs.appendFile(file, "append\n");
    await out.until("first append\n");
    assert.ok(!out.text.includes("old line"), "what tail showed is not shown again");
    await fs.truncate(file, 0);
    await fs.appendFile(file, "after truncate\n");
    await out.until("after truncate\n");
    assert.ok(out.notices.some((n) => /was truncated/.test(n)), out.notices.join("|"));
    // logrotate: rename the file away (a last line still goes to the old one), then a new file.
    await fs.rename(file, `${file}.1`);
    await fs.appendFile(`${file}.1`, "last in old\n");
    await fs.writeFile(file, "in new\n");
    await out.until("in new\n");
    await out.until("last in old\n");
    assert.ok(out.notices.some((n) => /was replaced \(rotated\)/.test(n)), out.notices.join("|"));
    controller.abort();
    await done;
  } finally {
    controller.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("followFile: waits for a file that does not exist yet, and stops on abort", async () => {
  const dir = await tmp();
  const controller = new AbortController();
  try {
    const file = path.join(dir, "late.log");
    const out = collector();
    const done = followFile(file, { from: null, write: (s) => out.write(s), notice: () => {}, signal: controller.signal, pollMs: 5000 });
    await fs.writeFile(file, "hello\n");
    await out.until("hello\n");
    controller.abort();
    await done;
    assert.equal(out.text, "hello\n");
  } finally {
    controller.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("logs command: bad name or -n → 2, missing profile → 3, no file yet → 1; nothing written", async () => {
  const w = await fakeWorld();
  try {
    const logDir = path.join(w.home, "logs");
    await fs.mkdir(logDir);
    const config = { ...DEFAULT_CONFIG, logDir };
    const ctx = { ...w.ctx, json: false, config: async () => config };
    await createProfile(w.ctx.paths, "liam", new Map([["PORT", "8600"]]));
    const before = await snapshot(w.home);
    const run = (name: string, extra: Record<string, unknown> = {}) => logs.run({ json: false, verbose: false, names: [name], follow: false, rotate: false, lines: "50", ...extra }, ctx);
    await assert.rejects(run("../x"), hasCode(ExitCode.usage, /invalid profile name/));
    await assert.rejects(run("liam", { lines: "0" }), hasCode(ExitCode.usage, /-n "0"/));
    await assert.rejects(run("liam", { lines: "x" }), hasCode(ExitCode.usage));
    await assert.rejects(run("nosuch"), hasCode(ExitCode.notFound));
    await assert.rejects(run("liam"), hasCode(ExitCode.failed, /no output from liam yet: .*liam\.log does not exist.*profiles restart liam/));
    assert.deepEqual(await snapshot(w.home), before);
    await fs.writeFile(path.join(logDir, "liam.log"), "a\nb\nc\n");
    const r = await run("liam", { lines: "2" });
    assert.deepEqual(r.data, { name: "liam", source: "file", file: path.join(logDir, "liam.log"), lines: ["b", "c"] });
    assert.equal(r.text, "b\nc");
    assert.equal(r.exitCode, undefined);
  } finally {
    await w.cleanup();
  }
});

test("showJournal: no lines exits 1 naming the next command; -f says so on stderr and follows; lines are shown", async () => {
  const w = await fakeWorld();
  try {
    const calls = path.join(w.home, "calls");
    const lines = path.join(w.home, "has-lines");
    // Prints a line only to the first look (-q) and only once "has-lines" exists; records every run.
    const fake = path.join(w.home, "journalctl");
    await fs.writeFile(fake, `#!/bin/sh\necho "$@" >> ${calls}\ncase " $* " in *" -q "*) [ -f ${lines} ] && echo '{"_SYSTEMD_USER_UNIT":"agent-gateway@liam.service","MESSAGE":"a line"}';; esac\nexit \${EXIT:-0}\n`, { mode: 0o755 });
    const notes: string[] = [];
    const ctx = { ...w.ctx, env: { ...w.ctx.env }, progress: (m: string) => void notes.push(m) };
    const source = { unit: "agent-gateway@liam.service", journalctl: fake };
    const show = (follow: boolean) => showJournal(ctx, "liam", source, 5, follow, new AbortController().signal, async () => {});
    const runs = async () => (await fs.readFile(calls, "utf8").catch(() => "")).trim().split("\n");
    const matches = unitMatches(["agent-gateway@liam.service"], ownUid()).join(" ");
    const look = `--user ${matches} -n 5 -o json --all --no-pager -q`;

    await assert.rejects(show(false), hasCode(ExitCode.failed, /no output from liam yet: the journal has no lines of agent-gateway@liam\.service.*profiles start liam/));
    assert.deepEqual(await runs(), [look], "nothing shown after the first look");
    await fs.rm(calls);
    const before = Date.now();
    assert.equal(await show(true), 0);
    const [first, follower] = await runs();
    assert.equal(first, look);
    // It follows from the time it looked, not from `-n 5`: the lines written while journalctl starts are in it.
    const since = /^--since=@(\d+\.\d{3}) -f -o json --all --no-pager$/.exec(follower?.startsWith(`--user ${matches} `) ? follower.slice(`--user ${matches} `.length) : "");
    assert.ok(since, follower);
    assert.ok(Number(since[1]) * 1000 >= before - 1 && Number(since[1]) * 1000 <= Date.now(), `${since[1]} against ${before}`);
    assert.deepEqual(notes, ["nothing from liam in the journal yet (agent-gateway@liam.service): waiting for its first line"]);
    await fs.rm(calls);
    await fs.writeFile(lines, "");
    assert.equal(await show(false), 0);
    assert.deepEqual(await runs(), [look, `--user ${matches} -n 5 -o json --all --no-pager`]);
    assert.equal(notes.length, 1);
    // A journalctl that fails is no "nothing to show": its own error and exit code come through.
    await fs.rm(lines);
    ctx.env.EXIT = "1";
    assert.equal(await show(false), 1);
  } finally {
    await w.cleanup();
  }
});

test("outputSince: only what a log file got after the mark; from the start when it was truncated or replaced", () =>
  inTempDir("logs", async (dir) => {
    const config = { ...DEFAULT_CONFIG, logDir: dir };
    const ctx = { config: async () => config, env: {} } as never;
    const file = path.join(dir, "liam.log");
    const none = await markOutput(ctx, "liam");
    await fs.writeFile(file, "first run\n");
    assert.deepEqual(await outputSince(ctx, none), ["first run"], "no file at the mark: all of it is new");
    const m1 = await markOutput(ctx, "liam");
    assert.deepEqual(await outputSince(ctx, m1), []);
    await fs.appendFile(file, Array.from({ length: 12 }, (_, i) => `second ${i}\n`).join(""));
    assert.deepEqual(await outputSince(ctx, m1), Array.from({ length: 8 }, (_, i) => `second ${i + 4}`));
    assert.deepEqual(await outputSince(ctx, m1, 20), Array.from({ length: 12 }, (_, i) => `second ${i}`));
    const m2 = await markOutput(ctx, "liam");
    await fs.truncate(file, 0);
    await fs.appendFile(file, "after truncation\n");
    assert.deepEqual(await outputSince(ctx, m2), ["after truncation"]);
    const m3 = await markOutput(ctx, "liam");
    await fs.rename(file, `${file}.1`);
    await fs.writeFile(file, "rotated, new file\n");
    assert.deepEqual(await outputSince(ctx, m3), ["rotated, new file"]);
    // No log dir and no journald: nothing to mark, nothing to show.
    const bare = { config: async () => ({ ...DEFAULT_CONFIG, logDir: "" }), env: { PATH: dir } } as never;
    const m4 = await markOutput(bare, "liam");
    assert.equal(m4.kind === "none" || m4.kind === "journal", true);
    if (m4.kind === "none") assert.deepEqual(await outputSince(bare, m4), []);
  }));

test("showJournal: a line another process tagged as the gateway's is left out; its own, the manager's and a core dump's stay (text and --json)", async () => {
  const w = await fakeWorld();
  try {
    const entries = path.join(w.home, "entries");
    const fake = path.join(w.home, "journalctl");
    await fs.writeFile(fake, `#!/bin/sh\ncat ${entries}\n`, { mode: 0o755 });
    const at = new Date(2026, 11, 3, 9, 4, 5).getTime() * 1000;
    const line = (fields: Record<string, string>) => JSON.stringify({ __REALTIME_TIMESTAMP: String(at), _HOSTNAME: "vm", _UID: "1000", ...fields });
    const cgroup = (unit: string) => `/user.slice/user-1000.slice/user@1000.service/app.slice/${unit}`;
    const tag = "agent-gateway@liam";
    // As journalctl's matches let them in: the unit's fields, or the template's SYSLOG_IDENTIFIER.
    const forged = [
      line({ SYSLOG_IDENTIFIER: tag, _PID: "71", _SYSTEMD_USER_UNIT: "forger.service", _SYSTEMD_CGROUP: cgroup("forger.service"), MESSAGE: "forged in a unit" }),
      line({ SYSLOG_IDENTIFIER: tag, _PID: "72", _SYSTEMD_UNIT: "session-3.scope", _SYSTEMD_CGROUP: "/user.slice/user-1000.slice/session-3.scope", MESSAGE: "forged in a login" }),
      line({ SYSLOG_IDENTIFIER: tag, _PID: "73", _SYSTEMD_USER_UNIT: "agent-gateway@ops.service", _SYSTEMD_CGROUP: cgroup("agent-gateway@ops.service"), MESSAGE: "forged by another profile" }),
      line({ USER_UNIT: `${tag}.service`, _PID: "74", _SYSTEMD_USER_UNIT: "forger.service", _SYSTEMD_CGROUP: cgroup("forger.service"), MESSAGE: "forged as the manager" }),
    ];
    const own = [
      line({ SYSLOG_IDENTIFIER: "systemd", _PID: "900", _SYSTEMD_USER_UNIT: "init.scope", _SYSTEMD_CGROUP: cgroup("init.scope"), USER_UNIT: `${tag}.service`, MESSAGE: "Started agent-gateway@liam.service." }),
      line({ SYSLOG_IDENTIFIER: tag, _PID: "42", _SYSTEMD_USER_UNIT: `${tag}.service`, _SYSTEMD_CGROUP: cgroup(`${tag}.service`), MESSAGE: "listening on 8600" }),
      // Read by journald after the gateway was gone: no cgroup, the tag only.
      line({ SYSLOG_IDENTIFIER: tag, _PID: "43", MESSAGE: "bye" }),
      line({ SYSLOG_IDENTIFIER: "systemd-coredump", _PID: "950", _UID: "1000", _SYSTEMD_UNIT: "systemd-coredump@0-950-0.service", _SYSTEMD_CGROUP: "/system.slice/x", COREDUMP_USER_UNIT: `${tag}.service`, MESSAGE: "Process 42 (node) dumped core." }),
    ];
    const notes: string[] = [];
    const show = async (json: boolean, follow = false) => {
      let out = "";
      const ctx = { ...w.ctx, json, progress: (m: string) => void notes.push(m) };
      const code = await showJournal(ctx, "liam", { unit: `${tag}.service`, journalctl: fake }, 50, follow, new AbortController().signal, async (t) => void (out += t));
      return { code, out };
    };

    // Only forged lines: nothing of the gateway to show.
    await fs.writeFile(entries, forged.join("\n") + "\n");
    await assert.rejects(show(false), hasCode(ExitCode.failed, /no output from liam yet/));
    assert.deepEqual(await show(false, true), { code: 0, out: "" });
    assert.equal(notes.length, 1, "-f waits for the first line");

    await fs.writeFile(entries, [forged[0], own[0], forged[1], own[1], own[2], forged[2], own[3], forged[3]].join("\n") + "\n");
    const text = await show(false);
    assert.deepEqual(text, { code: 0, out: [
      "Dec 03 09:04:05 vm systemd[900]: Started agent-gateway@liam.service.",
      "Dec 03 09:04:05 vm agent-gateway@liam[42]: listening on 8600",
      "Dec 03 09:04:05 vm agent-gateway@liam[43]: bye",
      "Dec 03 09:04:05 vm systemd-coredump[950]: Process 42 (node) dumped core.",
      "",
    ].join("\n") });
    // --json: as the merged view prints a line, one object each.
    const json = await show(true);
    const time = new Date(at / 1000).toISOString();
    const msgs = ["Started agent-gateway@liam.service.", "listening on 8600", "bye", "Process 42 (node) dumped core."];
    assert.deepEqual(json.out.trimEnd().split("\n").map((l) => JSON.parse(l) as unknown), msgs.map((message) => ({ profile: "liam", time, stream: null, message })));
    assert.equal(notes.length, 1);
  } finally {
    await w.cleanup();
  }
});

test("shortLine: journalctl's short output, the sender's time first; control characters escaped, a message's next lines indented", () => {
  const at = new Date(2026, 0, 9, 23, 59, 1);
  const e = { __REALTIME_TIMESTAMP: String(at.getTime() * 1000 + 5_000_000), _SOURCE_REALTIME_TIMESTAMP: String(at.getTime() * 1000), _HOSTNAME: "vm", SYSLOG_IDENTIFIER: "agent-gateway@a", _PID: "7", MESSAGE: "one\x1b[2J\ntwo" };
  assert.equal(shortLine(e), "Jan 09 23:59:01 vm agent-gateway@a[7]: one\\e[2J\n                                       two");
  // No identifier: the command's name; a byte array message decoded.
  assert.equal(shortLine({ __REALTIME_TIMESTAMP: String(at.getTime() * 1000), _COMM: "node", MESSAGE: [104, 105] }), "Jan 09 23:59:01 node: hi");
});

// The manager's three lines about a failed run, and the gateway's own (`_PID` 4242), oldest first.
const MANAGER: JournalEntry[] = [
  { message: "agent-gateway@liam.service: Main process exited, code=exited, status=78/CONFIG", pid: 900 },
  { message: "agent-gateway@liam.service: Failed with result 'exit-code'.", pid: 900 },
  { message: "Failed to start agent-gateway@liam.service - agent gateway liam.", pid: 900 },
];
const OWN: JournalEntry[] = [{ message: "bad-gateway liam: run 1 fails on purpose", pid: 4242 }];

test("journalTail: reads again until the failed run's own process has a line, not just the manager's", async () => {
  // journald stores the manager's lines first; the gateway's stdout lines (another socket) a moment later.
  let reads = 0;
  const read = async () => (++reads < 3 ? MANAGER : [...OWN, ...MANAGER]);
  const started = Date.now();
  const lines = await journalTail(read, { pid: 4242, ownLineMs: 5000 });
  assert.deepEqual(lines, [OWN[0]!.message, ...MANAGER.map((e) => e.message)]);
  assert.equal(reads, 3, "read until the process's line was there, then no more");
  assert.ok(Date.now() - started < 1000, `no wait past the line's arrival: ${Date.now() - started} ms`);
});

test("journalTail: a process that wrote nothing costs the deadline and no more; without a PID any line ends the wait", async () => {
  let reads = 0;
  const started = Date.now();
  const lines = await journalTail(async () => (reads++, MANAGER), { pid: 4242, ownLineMs: 300 });
  const took = Date.now() - started;
  assert.deepEqual(lines, MANAGER.map((e) => e.message), "what there is, at the deadline");
  assert.ok(took >= 290 && took < 800, `bounded by the deadline: ${took} ms`);
  assert.ok(reads >= 3 && reads <= 12, `short polls, not a busy loop: ${reads} reads`);
  // No PID of this run (a job that never reached exec): the first lines end it, as before.
  reads = 0;
  assert.deepEqual(await journalTail(async () => (reads++, MANAGER), { pid: 0 }), MANAGER.map((e) => e.message));
  assert.equal(reads, 1);
  // Nothing at all: empty at the settle deadline.
  const t0 = Date.now();
  assert.deepEqual(await journalTail(async () => [], { pid: 0, settleMs: 100 }), []);
  assert.ok(Date.now() - t0 < 600);
});

test("unitMatches: -u's own terms for a user unit (journalctl 252), the template's SYSLOG_IDENTIFIER, and the main PID's lines, each this user's", () => {
  const unit = "agent-gateway@liam.service";
  const own = (u: string) => [
    `_SYSTEMD_USER_UNIT=${u}`, "_UID=1000", "+", `USER_UNIT=${u}`, "_UID=1000", "+", `COREDUMP_USER_UNIT=${u}`, "_UID=1000", "_UID=0", "+",
    `OBJECT_SYSTEMD_USER_UNIT=${u}`, "_UID=1000", "_UID=0", "+", `SYSLOG_IDENTIFIER=${u.replace(/\.service$/, "")}`, "_UID=1000",
  ];
  assert.deepEqual(unitMatches([unit], 1000), own(unit));
  assert.deepEqual(unitMatches([unit], 1000, 4242), [...own(unit), "+", "_PID=4242", "_UID=1000"]);
  assert.deepEqual(unitMatches([unit, "agent-gateway@ops.service"], 1000), [...own(unit), "+", ...own("agent-gateway@ops.service")]);
});

test("journalEntries: messages as text (bytes arrays decoded), _PID as a number, unparsable lines left out", () => {
  const text = [
    JSON.stringify({ MESSAGE: "plain", _PID: "17", __CURSOR: "c" }),
    JSON.stringify({ MESSAGE: [0x1b, 0x5b, 0x32, 0x4a, 0x61], _PID: "18" }),
    "not json",
    JSON.stringify({ MESSAGE: null }),
    "",
  ].join("\n");
  assert.deepEqual(journalEntries(text), [{ message: "plain", pid: 17 }, { message: "\x1b[2Ja", pid: 18 }, { message: "", pid: 0 }]);
});

test("outputSince from the journal: waits for the line of the run's main process (ExecMainPID), not of an earlier run", async () => {
  const w = await fakeWorld();
  try {
    const calls = path.join(w.home, "calls");
    // As journalctl --reverse prints them (newest first): the first two reads have only the manager's lines.
    // The manager's lines (PID 900) as journald stores them: sent from its init.scope, naming the unit in USER_UNIT.
    const fields = (e: JournalEntry) => (e.pid === 900 ? { _SYSTEMD_USER_UNIT: "init.scope", USER_UNIT: "agent-gateway@liam.service" } : {});
    // Another process of the user that sent a line naming the unit (`logger --journald`): journalctl's matches let it in.
    const forged = JSON.stringify({ MESSAGE: "forged", _PID: "666", _SYSTEMD_USER_UNIT: "forger.service", USER_UNIT: "agent-gateway@liam.service" });
    const entries = (list: JournalEntry[]) => [forged, ...[...list].reverse().map((e) => JSON.stringify({ MESSAGE: e.message, _PID: String(e.pid), ...fields(e) }))].join("\n");
    const fake = path.join(w.home, "journalctl");
    await fs.writeFile(fake, [
      "#!/bin/sh",
      `echo "$@" >> ${calls}`,
      `n=$(wc -l < ${calls})`,
      `if [ "$n" -lt 3 ]; then cat <<'EOF'\n${entries(MANAGER)}\nEOF\nelse cat <<'EOF'\n${entries([...OWN, ...MANAGER])}\nEOF\nfi`,
      "",
    ].join("\n"), { mode: 0o755 });
    const unit = "agent-gateway@liam.service";
    const sinceMs = Date.now() - 1000;
    const mark = { kind: "journal" as const, unit, journalctl: fake, sinceMs };
    w.systemd.props.set(unit, { ExecMainPID: 4242, ExecMainStartTimestamp: (sinceMs + 10) * 1000 });
    assert.deepEqual(await outputSince(w.ctx, mark), [OWN[0]!.message, ...MANAGER.map((e) => e.message)]);
    const runs = (await fs.readFile(calls, "utf8")).trim().split("\n");
    assert.equal(runs.length, 3, runs.join("\n"));
    // The process's lines are found by _PID too: journald stores them with no unit when the process is gone before it reads them.
    const uid = process.getuid!();
    assert.equal(runs[0], `--user ${unitMatches([unit], uid, 4242).join(" ")} --since=@${(sinceMs / 1000).toFixed(3)} --reverse -n 8 -o json --output-fields=MESSAGE,_PID,_UID,_SYSTEMD_UNIT,_SYSTEMD_USER_UNIT,_SYSTEMD_CGROUP,USER_UNIT,COREDUMP_USER_UNIT,OBJECT_SYSTEMD_USER_UNIT,SYSLOG_IDENTIFIER --all --no-pager -q`);
    assert.ok(runs[0]!.includes(` + _PID=4242 _UID=${uid} `), runs[0]);
    // A main process that started before the mark is an earlier run's: nothing of it to wait for.
    await fs.rm(calls);
    w.systemd.props.set(unit, { ExecMainPID: 4242, ExecMainStartTimestamp: (sinceMs - 10) * 1000 });
    assert.deepEqual(await outputSince(w.ctx, mark), MANAGER.map((e) => e.message));
    const [only, ...more] = (await fs.readFile(calls, "utf8")).trim().split("\n");
    assert.deepEqual(more, []);
    assert.ok(only!.startsWith(`--user ${unitMatches([unit], uid).join(" ")} --since=`), only);
  } finally {
    await w.cleanup();
  }
});

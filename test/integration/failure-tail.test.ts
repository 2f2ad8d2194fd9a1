import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { startSandbox, type ExecResult, type Sandbox } from "../helpers/sandbox.js";

// Ports of this file only.
const RANGE = "18910-18919";
const PORT = 18910;

let sb: Sandbox;
let logDir: string;

async function profiles(args: string[]): Promise<ExecResult> {
  return sb.profiles(args, { timeoutMs: 90_000 });
}

/** The run markers (`run <uuid>`) the bad gateway printed, in order. */
function runs(lines: readonly string[]): string[] {
  return lines.flatMap((l) => /run ([0-9a-f-]{36}) fails on purpose/.exec(l)?.[1] ?? []);
}

/** The log tail of a failed start or restart, from its --json outcome (the error's lines after the first). */
function errorTail(r: ExecResult): string[] {
  const [outcome] = JSON.parse(r.stdout) as { ok: boolean; error: string }[];
  assert.equal(outcome?.ok, false, r.stdout);
  return outcome!.error.split("\n").slice(1).map((l) => l.trim());
}


before(async () => {
  sb = await startSandbox();
  logDir = path.join(sb.home, "logs");
  const gateway = path.join(sb.appDir, "dist/test/fixtures/bad-gateway.js");
  const init = await profiles(["init", "--range", RANGE, "--log-dir", logDir, "--no-sweep", "--exec", `${process.execPath} ${gateway}`]);
  assert.equal(init.code, 0, init.stderr);
  const add = await profiles(["add", "tail", "--port", String(PORT)]);
  assert.equal(add.code, 0, add.stderr);
});

after(async () => {
  await sb?.stop();
});

// Ten lines before the run's own (`E1=` ... `E10=`): a tail of a failure's first 8 lines would miss it.
const ECHOED = Array.from({ length: 10 }, (_, i) => `E${i + 1}`).join(",");

/**
 * Makes the profile fail at every start (it prints ten lines, then `run <uuid>`, and exits 78), then fails
 * it by `restart`, `start` and a roll in turn: each failure's tail holds its own run's line and none of an
 * earlier run, which the output (file or journal) does hold.
 */
async function failThreeTimes(t: { diagnostic(s: string): void }, readAll: () => Promise<string[]>): Promise<void> {
  const set = await profiles(["set", "tail", "FAIL_RUN=1", `ECHO_VARS=${ECHOED}`]);
  assert.equal(set.code, 0, set.stderr);
  const seen: string[] = [];
  const check = (what: string, tail: string[]): void => {
    const mine = runs(tail);
    assert.equal(mine.length, 1, `${what}: one run of this start in its tail:\n${tail.join("\n")}`);
    for (const old of seen) assert.ok(!tail.some((l) => l.includes(old)), `${what}: the tail holds run ${old} of an earlier start:\n${tail.join("\n")}`);
    assert.ok(!tail.some((l) => /listening on/.test(l)), `${what}: the healthy run before is in the tail:\n${tail.join("\n")}`);
    seen.push(mine[0]!);
  };

  const first = await profiles(["restart", "tail", "--json"]);
  assert.equal(first.code, 7, first.stderr);
  check("restart", errorTail(first));
  const second = await profiles(["start", "tail", "--json"]);
  assert.equal(second.code, 7, second.stderr);
  check("start", errorTail(second));
  const text = await profiles(["start", "tail"]);
  assert.equal(text.code, 7);
  const shown = text.stdout.split("\n").filter((l) => l.startsWith("    ")).map((l) => l.trim());
  check("start (text)", shown);
  const roll = await profiles(["roll", "tail", "--no-auto-revert", "--min-healthy-time", "0", "--json"]);
  assert.equal(roll.code, 13, roll.stderr);
  const entry = (JSON.parse(roll.stdout) as { rolls: { profiles: { details: string[] }[] }[] }).rolls.at(-1)!.profiles[0]!;
  check("roll", entry.details);
  const record = JSON.parse(await fs.readFile(path.join(sb.home, ".local/state/agent-profiles/roll.json"), "utf8")) as { profiles: Record<string, { details: string[] }> };
  assert.deepEqual(record.profiles.tail!.details, entry.details, "roll.json keeps the same tail");

  // The output itself holds every run: the tails left the earlier ones out, they did not miss them.
  const all = runs(await readAll());
  for (const r of seen) assert.ok(all.includes(r), `run ${r} is not in the output:\n${all.join("\n")}`);
  t.diagnostic(`4 failed starts, each tail held only its own run; the output holds ${all.length} runs`);

  const unset = await profiles(["unset", "tail", "FAIL_RUN", "ECHO_VARS"]);
  assert.equal(unset.code, 0, unset.stderr);
  const good = await profiles(["start", "tail"]);
  assert.equal(good.code, 0, good.stderr);
}

test("a failed start shows only the lines of this start, from the log file", async (t) => {
  await failThreeTimes(t, async () => (await fs.readFile(path.join(logDir, "tail.log"), "utf8")).split("\n"));
});

test("a failed start shows only the lines of this start, from the journal where journald runs", async (t) => {
  if (!sb.journal) {
    t.diagnostic("no journald on this host: the file case above is the one that runs here");
    return;
  }
  const off = await profiles(["init", "--log-dir", ""]);
  assert.equal(off.code, 0, off.stderr);
  try {
    const restart = await profiles(["restart", "tail"]);
    assert.equal(restart.code, 0, restart.stderr);
    // The user's whole journal, not `-u`: lines journald stored with no unit (see the next test) are in it too.
    await failThreeTimes(t, async () => (await sb.exec("journalctl", ["--user", "-o", "cat", "--no-pager"])).stdout.split("\n"));
  } finally {
    const on = await profiles(["init", "--log-dir", logDir]);
    assert.equal(on.code, 0, on.stderr);
  }
});

/** The PID of the journald the sandbox's units write to: its own (namespace mode) or the host's. */
async function journaldPid(): Promise<number> {
  if (sb.journald) return sb.journald.pid;
  const r = spawnSync("systemctl", ["show", "--property", "MainPID", "--value", "systemd-journald.service"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

test("a failed start's journal tail holds its gateway's lines that journald read only after the gateway was gone", async (t) => {
  if (!sb.journal) {
    t.diagnostic("no journald on this host");
    return;
  }
  // journald held stopped while the gateway writes and exits: when it reads the lines, the process is gone,
  // so it cannot tell their unit (they are stored with no _SYSTEMD_USER_UNIT, which `-u` needs), and they
  // come after the manager's lines. The tail must still hold them: by the main process's _PID, polled for.
  const off = await profiles(["init", "--log-dir", ""]);
  assert.equal(off.code, 0, off.stderr);
  const pid = await journaldPid();
  assert.ok(pid > 1, `journald's PID: ${pid}`);
  try {
    const set = await profiles(["set", "tail", "FAIL_RUN=1"]);
    assert.equal(set.code, 0, set.stderr);
    const unit = "agent-gateway@tail.service";
    const state = async () => (await sb.exec("systemctl", ["--user", "show", "--property", "ActiveState", "--value", unit])).stdout.trim();
    let stopped = false;
    try {
      process.kill(pid, "SIGSTOP");
      stopped = true;
      const failing = profiles(["restart", "tail", "--json"]);
      // Held until the gateway has exited and the unit failed, no longer (the tail waits a bounded time for the lines).
      const deadline = Date.now() + 20_000;
      while ((await state()) !== "failed" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await state(), "failed", "the unit failed while journald was stopped");
      process.kill(pid, "SIGCONT");
      stopped = false;
      const r = await failing;
      assert.equal(r.code, 7, r.stderr);
      const tail = errorTail(r);
      assert.equal(runs(tail).length, 1, `the gateway's own line is in the tail:\n${tail.join("\n")}`);
      const run = runs(tail)[0]!;
      const byUnit = await sb.exec("journalctl", ["--user", "-u", unit, "-o", "cat", "--no-pager"]);
      t.diagnostic(`the run's line ${byUnit.stdout.includes(run) ? "is" : "is not"} in \`journalctl --user -u ${unit}\``);
      // `profiles logs` finds it by the template's SyslogIdentifier, journalctl's -u (above) only by luck.
      const one = await profiles(["logs", "tail", "-n", "200"]);
      assert.equal(one.code, 0, one.stderr);
      assert.ok(one.stdout.includes(run), `\`profiles logs tail\` shows the run's line ${run}:\n${one.stdout}`);
      const merged = await profiles(["logs", "-n", "200", "--json"]);
      assert.equal(merged.code, 0, merged.stderr);
      const line = merged.stdout.split("\n").find((l) => l.includes(run));
      assert.equal((JSON.parse(line ?? "{}") as { profile?: string }).profile, "tail", `the merged view names the profile of ${run}:\n${merged.stdout}`);
    } finally {
      if (stopped) process.kill(pid, "SIGCONT");
    }
  } finally {
    const unset = await profiles(["unset", "tail", "FAIL_RUN"]);
    assert.equal(unset.code, 0, unset.stderr);
    const on = await profiles(["init", "--log-dir", logDir]);
    assert.equal(on.code, 0, on.stderr);
  }
});

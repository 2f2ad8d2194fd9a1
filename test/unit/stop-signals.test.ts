import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const MODULE = fileURLToPath(new URL("../../src/core/stop-signals.js", import.meta.url));

/**
 * A node process that runs two deferStopSignals bodies in turn, each waiting until its signal aborts
 * (then, in the first, on a step that never ends by itself, as a stop job might not): it prints what it
 * saw, and the parent sends the signals on cue.
 */
const CHILD = `
const { deferStopSignals, unlessAborted } = await import(${JSON.stringify(MODULE)});
const say = (t) => process.stdout.write(t + "\\n");
// The timer holds the process open as a wait on the manager would; cleared at the end so it can exit.
const alive = setInterval(() => {}, 1000);
const forever = new Promise(() => {});
await deferStopSignals(say, async (signal) => {
  say("waiting");
  await unlessAborted(forever, signal, (sig) => new Error("interrupted by " + sig)).catch((e) => say(e.message));
  say("finishing the step");
  if (process.argv.includes("slow-step")) await forever;
});
await deferStopSignals(say, async (signal) => say("second body aborted from the start: " + signal.aborted + " " + signal.reason));
say("done");
clearInterval(alive);
`;

function child(mode: string) {
  const p = spawn(process.execPath, ["--input-type=module", "-e", CHILD, mode], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const late = setTimeout(() => (p.kill("SIGKILL"), reject(new Error(`still running after 10 s:\n${out}`))), 10_000);
    p.on("close", (code, signal) => (clearTimeout(late), resolve({ code, signal })));
  });
  const until = async (text: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!out.includes(text)) {
      assert.ok(Date.now() < deadline, `no "${text}" in:\n${out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { p, exited, until, out: () => out };
}

test("deferStopSignals: the first Ctrl-C ends the wait, not the process; the next body starts aborted", async () => {
  const c = child("quick-step");
  await c.until("waiting");
  c.p.kill("SIGINT");
  const end = await c.exited;
  assert.deepEqual(end, { code: 0, signal: null }, c.out());
  assert.equal(c.out(), [
    "waiting",
    "SIGINT: stopping once the step under way is done (again: at once)",
    "interrupted by SIGINT",
    "finishing the step",
    "second body aborted from the start: true SIGINT",
    "done",
    "",
  ].join("\n"));
});

test("deferStopSignals: a second signal during a step that does not end ends the process at once, by that signal", async () => {
  const c = child("slow-step");
  await c.until("waiting");
  c.p.kill("SIGTERM");
  await c.until("finishing the step");
  c.p.kill("SIGTERM");
  const end = await c.exited;
  assert.deepEqual(end, { code: null, signal: "SIGTERM" }, c.out());
  assert.ok(!c.out().split("\n").includes("done"), c.out());
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { eachProfile } from "../../src/commands/start.js";
import { notStopped, Steps } from "../../src/core/stop-signals.js";
import { InterruptedError, UnhealthyError } from "../../src/errors.js";

const MODULE = fileURLToPath(new URL("../../src/core/stop-signals.js", import.meta.url));

/**
 * A node process that runs a deferStopSignals body waiting until its signal aborts (then, with
 * `slow-step`, on a step that never ends by itself, as a stop job might not), then says how many
 * SIGINT and SIGTERM listeners are left: the parent sends the signals on cue.
 */
const CHILD = `
const { deferStopSignals, unlessAborted, unstoppable } = await import(${JSON.stringify(MODULE)});
const say = (t) => process.stdout.write(t + "\\n");
// The timer holds the process open as a wait on the manager would; cleared at the end so it can exit.
const alive = setInterval(() => {}, 1000);
const forever = new Promise(() => {});
const result = await deferStopSignals(say, async (signal) => {
  say("waiting");
  await unlessAborted(forever, signal, (sig) => new Error("interrupted by " + sig)).catch((e) => say(e.message));
  say("finishing the step");
  if (process.argv.includes("slow-step")) await forever;
  // A putting back that must not be cut: it ends when the parent sends SIGUSR2.
  if (process.argv.includes("put-back")) await unstoppable(say, "putting it back", () => (say("putting back"), new Promise((r) => process.once("SIGUSR2", r))));
  return "body's result";
});
say(result + "; listeners left: " + process.listenerCount("SIGINT") + " " + process.listenerCount("SIGTERM"));
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

/** What the child says up to the end of its step after one SIGINT. */
const FIRST_SIGINT = ["waiting", "SIGINT: stopping once the step under way is done (again: at once)", "interrupted by SIGINT", "finishing the step"];

test("deferStopSignals: the first Ctrl-C ends the wait, not the process, and its listeners go with the body", async () => {
  const c = child("quick-step");
  await c.until("waiting");
  c.p.kill("SIGINT");
  const end = await c.exited;
  assert.deepEqual(end, { code: 0, signal: null }, c.out());
  assert.equal(c.out(), [
    ...FIRST_SIGINT,
    "body's result; listeners left: 0 0",
    "",
  ].join("\n"));
});

test("unstoppable: a second Ctrl-C during a putting back is answered, not obeyed, and it finishes; no listener left", async () => {
  const c = child("put-back");
  await c.until("waiting");
  c.p.kill("SIGINT");
  await c.until("putting back");
  c.p.kill("SIGINT");
  await c.until("SIGINT: putting it back first");
  c.p.kill("SIGUSR2");
  const end = await c.exited;
  assert.deepEqual(end, { code: 0, signal: null }, c.out());
  assert.equal(c.out(), [
    ...FIRST_SIGINT,
    "putting back",
    "SIGINT: putting it back first; a stop now would leave it half-done (SIGKILL stops it all the same)",
    "body's result; listeners left: 0 0",
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
  assert.ok(!c.out().includes("body's result"), c.out());
});

test("eachProfile: a failure is an outcome and the rest run; an InterruptedError ends them all, naming the ones before and those not begun", async () => {
  const ran: string[] = [];
  const one = async (name: string) => {
    ran.push(name);
    if (name === "b") throw new UnhealthyError("b: not healthy within 1 s");
    if (name === "c") throw new InterruptedError("SIGTERM", "c: SIGTERM stopped the wait for its reload", "run `profiles status c`");
    return { name, ok: true };
  };
  const failed = (name: string, error: string) => ({ name, ok: false, error });
  await assert.rejects(eachProfile(["a", "b", "c", "d"], one, failed), (err: unknown) => {
    assert.ok(err instanceof InterruptedError);
    assert.equal(err.exitCode, 143);
    assert.equal(err.message, "c: SIGTERM stopped the wait for its reload (before it: a done, b failed; not begun: d)");
    assert.equal(err.hint, "run `profiles status c`");
    return true;
  });
  assert.deepEqual(ran, ["a", "b", "c"]);
  assert.deepEqual(await eachProfile(["a", "b"], one, failed), [{ name: "a", ok: true }, { name: "b", ok: false, error: "b: not healthy within 1 s" }]);
});

test("notStopped: nothing until the verb's signal is given, then an InterruptedError naming the command that does it later", () => {
  const abort = new AbortController();
  notStopped(undefined, "a", "profiles start a");
  notStopped(abort.signal, "a", "profiles start a");
  abort.abort("SIGINT");
  assert.throws(() => notStopped(abort.signal, "a", "profiles start a"), (err: unknown) => {
    assert.ok(err instanceof InterruptedError);
    assert.equal(err.exitCode, 130);
    assert.equal(err.message, "a: SIGINT came before anything was done to it");
    assert.equal(err.hint, "run `profiles start a`");
    return true;
  });
});

test("Steps: each begins unless the signal came; an interruption says what was done before it, what was not begun, and the verb's next step", async () => {
  const abort = new AbortController();
  const left: string[][] = [];
  const hint = (l: string[]) => (left.push(l), `run \`profiles import ${l.join(" ")}\``);
  const steps = new Steps(abort.signal, ["a", "b", "c"], hint);
  assert.equal(await steps.next("a", async () => 1, (n) => `a gave ${n}`), 1);
  await assert.rejects(steps.next("b", () => Promise.reject(new UnhealthyError("b: not healthy")), () => "b done"), UnhealthyError, "other errors pass as they are");
  const interrupted = new Steps(abort.signal, ["a", "b", "c"], hint);
  await interrupted.next("a", async () => undefined, () => "a imported");
  await assert.rejects(interrupted.next("b", () => Promise.reject(new InterruptedError("SIGTERM", "b: SIGTERM stopped its import", "run `profiles status b`")), () => "b imported"), (err: unknown) => {
    assert.ok(err instanceof InterruptedError);
    assert.equal(err.exitCode, 143);
    assert.equal(err.message, "b: SIGTERM stopped its import (before it: a imported; not begun: c)");
    // The step's own next step first (a wait it gave up), then the verb's.
    assert.equal(err.hint, "run `profiles status b`; then run `profiles import b c`");
    return true;
  });
  // A step whose lock wait the signal ended (withProfile's notStopped): nothing of it done, the verb's next step alone.
  const locked = new Steps(abort.signal, ["a"], hint);
  await assert.rejects(locked.next("a", () => Promise.reject(new InterruptedError("SIGINT", "a: SIGINT came before anything was done to it", "run `profiles import a`", true)), () => "a imported"), (err: unknown) => {
    assert.ok(err instanceof InterruptedError);
    assert.equal(err.hint, "run `profiles import a`");
    return true;
  });
  abort.abort("SIGINT");
  const late = new Steps(abort.signal, ["a"], hint);
  let ran = false;
  await assert.rejects(late.next("a", async () => (ran = true), () => "a imported"), (err: unknown) => {
    assert.ok(err instanceof InterruptedError);
    assert.equal(err.message, "a: SIGINT came before anything was done to it");
    assert.equal(err.hint, "run `profiles import a`");
    return true;
  });
  assert.equal(ran, false);
  assert.deepEqual(left, [["b", "c"], ["a"], ["a"]]);
});

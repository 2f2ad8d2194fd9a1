/** The job tracker against a fake bus: no D-Bus, the manager's replies and JobRemoved signals scripted per test. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExitCode, JobTimeoutError, ManagerUnreachableError, SystemdError } from "../../src/errors.js";
import { BusError } from "../../src/systemd/bus-errors.js";
import { JobTracker } from "../../src/systemd/jobs.js";
import type { BusCaller, JobVerb, MethodCall } from "../../src/systemd/methods.js";

const UNIT = "agent-gateway@liam.service";
const ADDRESS = "unix:path=/run/user/1000/bus";

type Answer = (call: MethodCall) => Promise<unknown[]>;

/** A bus whose methods answer as each test scripts them: subscriptions at once, job methods with a new job path each. */
class FakeBus implements BusCaller {
  readonly address = ADDRESS;
  readonly calls: MethodCall[] = [];
  private readonly answers = new Map<string, Answer>();
  private jobs = 0;

  answer(member: string, answer: Answer): void {
    this.answers.set(member, answer);
  }

  call(call: MethodCall): Promise<unknown[]> {
    this.calls.push(call);
    const answer = this.answers.get(call.member);
    if (answer !== undefined) return answer(call);
    if (call.member.endsWith("Unit")) return Promise.resolve([`/org/freedesktop/systemd1/job/${++this.jobs}`]);
    return Promise.resolve([]);
  }

  members(): string[] {
    return this.calls.map((c) => c.member);
  }
}

const never = (): Promise<unknown[]> => new Promise<unknown[]>(() => undefined);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A tracker whose every job ends with `result` just after the manager's reply. */
function finishing(bus: FakeBus, result: string): JobTracker {
  const jobs = new JobTracker(bus);
  let n = 0;
  for (const member of ["StartUnit", "StopUnit", "RestartUnit", "ReloadUnit"]) {
    bus.answer(member, async () => {
      const path = `/org/freedesktop/systemd1/job/${++n}`;
      setImmediate(() => jobs.jobRemoved(path, result));
      return [path];
    });
  }
  return jobs;
}

/** Runs `work`, expecting a JobTimeoutError; returns it and how long it took. */
async function timesOut(start: () => Promise<unknown>): Promise<{ err: JobTimeoutError; ms: number }> {
  // Timed from before the call: the deadline counts from there.
  const started = Date.now();
  const err = await start().then(() => assert.fail("resolved"), (e: unknown) => e);
  assert.ok(err instanceof JobTimeoutError, String(err));
  return { err, ms: Date.now() - started };
}

/** Runs `verb` with a 100 ms deadline on a bus where `unanswered` never answers; expects a JobTimeoutError at the deadline. */
async function timesOutAtDeadline(verb: JobVerb, unanswered?: string): Promise<{ bus: FakeBus; jobs: JobTracker; err: JobTimeoutError }> {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  if (unanswered !== undefined) bus.answer(unanswered, never);
  // A timer set beside the call: on a loaded machine both fire late alike, so "at the deadline" is measured against it.
  const control = new Promise<number>((r) => setTimeout(() => r(Date.now()), 100));
  const { err, ms } = await timesOut(() => jobs.run(verb, UNIT, { timeoutMs: 100 }));
  const late = Date.now() - (await control);
  assert.ok(ms >= 95 && late < 500, `${ms} ms, ${late} ms after a 100 ms timer set beside it`);
  assert.equal(err.unit, UNIT);
  assert.equal(err.timeoutMs, 100);
  assert.equal(err.exitCode, ExitCode.systemd);
  return { bus, jobs, err };
}

test("each verb calls its Manager method with the unit and the job mode, after subscribing once", async () => {
  const bus = new FakeBus();
  const jobs = finishing(bus, "done");
  assert.equal(await jobs.run("start", UNIT), "done");
  assert.equal(await jobs.run("stop", UNIT), "done");
  assert.equal(await jobs.run("restart", UNIT, { mode: "fail" }), "done");
  assert.equal(await jobs.run("reloadUnit", UNIT), "done");
  assert.deepEqual(bus.members(), ["AddMatch", "Subscribe", "StartUnit", "StopUnit", "RestartUnit", "ReloadUnit"]);
  assert.match(String(bus.calls[0]?.body[0]), /member='JobRemoved'/);
  assert.deepEqual(bus.calls.slice(2).map((c) => c.body), [[UNIT, "replace"], [UNIT, "replace"], [UNIT, "fail"], [UNIT, "replace"]]);
  assert.deepEqual(bus.calls.slice(2).map((c) => c.signature), ["ss", "ss", "ss", "ss"]);
});

test("JobRemoved arriving before the StartUnit reply: its result is returned, not waited for", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  bus.answer("StartUnit", async () => {
    jobs.jobRemoved("/org/freedesktop/systemd1/job/9", "failed");
    return ["/org/freedesktop/systemd1/job/9"];
  });
  assert.equal(await jobs.run("start", UNIT, { timeoutMs: 5_000 }), "failed");
});

test("two job calls whose replies and JobRemoved signals come in one read: each gets its own result", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  const replies: (() => void)[] = [];
  bus.answer("StopUnit", (call) => new Promise((resolve) => {
    replies.push(() => resolve([`/job/${String(call.body[0])}`]));
  }));
  const a = jobs.run("stop", "a.service", { timeoutMs: 5_000 });
  const b = jobs.run("stop", "b.service", { timeoutMs: 5_000 });
  while (replies.length < 2) await sleep(1);
  // As dbus-next hands them over from one socket read: the replies resolve, then the signals are emitted.
  for (const reply of replies) reply();
  jobs.jobRemoved("/job/a.service", "done");
  jobs.jobRemoved("/job/b.service", "canceled");
  assert.deepEqual(await Promise.all([a, b]), ["done", "canceled"]);
});

test("two starts handed the same job both get its result", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  bus.answer("StartUnit", async () => ["/org/freedesktop/systemd1/job/3"]);
  const both = Promise.all([jobs.run("start", UNIT), jobs.run("start", UNIT)]);
  while (bus.members().filter((m) => m === "StartUnit").length < 2) await sleep(1);
  await sleep(1);
  jobs.jobRemoved("/org/freedesktop/systemd1/job/3", "done");
  assert.deepEqual(await both, ["done", "done"]);
});

test("job results: the six systemctl tells apart are kept, any other is a failure", async () => {
  for (const result of ["done", "failed", "canceled", "timeout", "dependency", "skipped"]) {
    assert.equal(await finishing(new FakeBus(), result).run("start", UNIT), result);
  }
  for (const result of ["assert", "unsupported", "collected", "once", "frozen"]) {
    assert.equal(await finishing(new FakeBus(), result).run("start", UNIT), "failed", result);
  }
});

test("a failed subscription fails the job and is tried again by the next one", async () => {
  const bus = new FakeBus();
  const jobs = finishing(bus, "done");
  const lost = new ManagerUnreachableError(ADDRESS, "Subscribe: no reply within 25000 ms");
  bus.answer("Subscribe", () => Promise.reject(lost));
  await assert.rejects(jobs.run("start", UNIT), (err) => err === lost);
  bus.answer("Subscribe", async () => []);
  assert.equal(await jobs.run("start", UNIT), "done");
  assert.deepEqual(bus.members(), ["AddMatch", "Subscribe", "AddMatch", "Subscribe", "StartUnit"]);
});

test("the caller's deadline holds while the subscription goes unanswered", async () => {
  const { bus, err } = await timesOutAtDeadline("start", "Subscribe");
  assert.match(err.message, /^StartUnit agent-gateway@liam\.service: .*subscription.* within 100 ms$/);
  assert.ok(!bus.members().includes("StartUnit"));
});

test("the caller's deadline holds while the StartUnit call goes unanswered", async () => {
  const { err } = await timesOutAtDeadline("start", "StartUnit");
  assert.match(err.message, /^StartUnit agent-gateway@liam\.service: .*not answered within 100 ms$/);
});

test("the caller's deadline holds while the job does not finish; its JobRemoved coming later is no harm", async () => {
  const { jobs, err } = await timesOutAtDeadline("restart");
  assert.equal(err.message, `RestartUnit ${UNIT}: job /org/freedesktop/systemd1/job/1 did not finish within 100 ms`);
  assert.match(err.hint ?? "", /systemctl --user status agent-gateway@liam\.service/);
  jobs.jobRemoved("/org/freedesktop/systemd1/job/1", "done");
});

test("the deadline counts from the call: a slow subscription leaves less time for the wait", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  bus.answer("Subscribe", () => sleep(400).then(() => []));
  const control = new Promise<number>((r) => setTimeout(() => r(Date.now()), 500));
  const { err, ms } = await timesOut(() => jobs.run("start", UNIT, { timeoutMs: 500 }));
  const late = Date.now() - (await control);
  assert.ok(ms >= 495 && late < 350, `${ms} ms, ${late} ms after a 500 ms timer set beside it`);
  assert.match(err.message, /job .* did not finish within 500 ms/);
});

test("the adapter's own timeout before the caller's deadline is what the caller gets", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  const noReply = new ManagerUnreachableError(ADDRESS, `StartUnit ${UNIT}: no reply within 50 ms`);
  bus.answer("StartUnit", () => sleep(50).then(() => Promise.reject(noReply)));
  await assert.rejects(jobs.run("start", UNIT, { timeoutMs: 5_000 }), (err) => err === noReply);
});

test("a job refused as destructive is the manager shutting down only while its SystemState says stopping", async () => {
  const refusal = new SystemdError(`StartUnit ${UNIT}: Transaction is destructive.`, BusError.TransactionIsDestructive);
  for (const [systemState, expect] of [
    [() => Promise.resolve([{ value: "stopping" }]), "unreachable"],
    [() => Promise.reject(new ManagerUnreachableError(ADDRESS, "the bus closed the connection")), "unreachable"],
    [() => Promise.resolve([{ value: "running" }]), "refusal"],
  ] as const) {
    const bus = new FakeBus();
    const jobs = new JobTracker(bus);
    bus.answer("StartUnit", () => Promise.reject(refusal));
    bus.answer("Get", systemState);
    const err = await jobs.run("start", UNIT).then(() => assert.fail("resolved"), (e: unknown) => e);
    if (expect === "refusal") {
      assert.equal(err, refusal);
    } else {
      assert.ok(err instanceof ManagerUnreachableError, String(err));
      assert.match(err.message, /Transaction is destructive\. \(the manager is shutting down\)/);
    }
    assert.deepEqual(bus.calls.at(-1)?.body, ["org.freedesktop.systemd1.Manager", "SystemState"]);
  }
});

test("the caller's deadline holds while the manager's SystemState goes unanswered after a destructive refusal", async () => {
  const refusal = new SystemdError(`StartUnit ${UNIT}: Transaction is destructive.`, BusError.TransactionIsDestructive);
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  bus.answer("StartUnit", () => Promise.reject(refusal));
  bus.answer("Get", never);
  const control = new Promise<number>((r) => setTimeout(() => r(Date.now()), 100));
  const err = await jobs.run("start", UNIT, { timeoutMs: 100 }).then(() => assert.fail("resolved"), (e: unknown) => e);
  const late = Date.now() - (await control);
  assert.equal(err, refusal);
  assert.ok(late < 500, `${late} ms after a 100 ms timer set beside it`);
  assert.equal(bus.calls.at(-1)?.member, "Get");
});

test("any other refusal (no such unit) is returned as it is, without asking the manager's state", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  const refusal = new SystemdError(`StartUnit nope.service: Unit nope.service not found.`, BusError.NoSuchUnit);
  bus.answer("StartUnit", () => Promise.reject(refusal));
  await assert.rejects(jobs.run("start", "nope.service"), (err) => err === refusal);
  assert.deepEqual(bus.members(), ["AddMatch", "Subscribe", "StartUnit"]);
});

test("a lost connection fails every job still waiting with the connection's error", async () => {
  const bus = new FakeBus();
  const jobs = new JobTracker(bus);
  const waiting = jobs.run("start", UNIT, { timeoutMs: 5_000 });
  while (!bus.members().includes("StartUnit")) await sleep(1);
  await sleep(1);
  const lost = new ManagerUnreachableError(ADDRESS, "the bus closed the connection");
  jobs.fail(lost);
  await assert.rejects(waiting, (err) => err === lost);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import add from "../../src/commands/add.js";
import { TopFeed } from "../../src/core/top/feed.js";
import { KeyReader } from "../../src/core/top/keys.js";
import { filterRows, formatBytes, formatUptime, parseSortKey, sortRows, topCells, topTable, type TopRow } from "../../src/core/top/model.js";
import { cpuPercent, type UsageSample } from "../../src/core/top/usage.js";
import { ExitCode } from "../../src/errors.js";
import { unitObjectPath, unitOfObjectPath } from "../../src/systemd/object-path.js";
import { fakeWorld } from "../helpers/fakes.js";
import { fails } from "../helpers/errors.js";

const NOW = 1_800_000_000_000;

function row(name: string, over: Partial<TopRow> = {}): TopRow {
  return {
    name, port: 9000, activeState: "active", subState: "running", disabled: false, pid: 100, startedAtMs: NOW - 65_000, restarts: 0,
    memoryBytes: 50 * 1024 * 1024, memorySource: "cgroup", cpuPercent: 1, cpuSource: "cgroup", health: { ok: true, reason: "ok" }, pendingRestart: false, ...over,
  };
}

const rows = [
  row("liam", { port: 9002, memoryBytes: 10, cpuPercent: 5, restarts: 1 }),
  row("ops", { port: 9001, memoryBytes: 30, cpuPercent: 0.5, restarts: 4 }),
  row("ci", { port: 9003, memoryBytes: null, cpuPercent: null, activeState: "inactive", subState: "dead", pid: null, startedAtMs: null, health: null, pendingRestart: null }),
  row("old", { port: null, memoryBytes: 20, cpuPercent: 2, disabled: true, activeState: "inactive", subState: "dead" }),
];
const names = (rs: TopRow[]) => rs.map((r) => r.name);

test("sortRows: names and ports smallest first, memory, CPU, restarts and uptime largest first, unknown values last", () => {
  assert.deepEqual(names(sortRows(rows, "name")), ["ci", "liam", "old", "ops"]);
  assert.deepEqual(names(sortRows(rows, "port")), ["ops", "liam", "ci", "old"]);
  assert.deepEqual(names(sortRows(rows, "memory")), ["ops", "old", "liam", "ci"]);
  assert.deepEqual(names(sortRows(rows, "cpu")), ["liam", "old", "ops", "ci"]);
  assert.deepEqual(names(sortRows(rows, "restarts")), ["ops", "liam", "ci", "old"]);
  // "active/running" < "disabled" < "inactive/dead"; ties by name.
  assert.deepEqual(names(sortRows(rows, "state")), ["liam", "ops", "old", "ci"]);
  assert.deepEqual(names(sortRows(rows, "uptime", NOW)), ["liam", "old", "ops", "ci"]);
});

test("filterRows: by name, state or health, any case; \"\" keeps all", () => {
  assert.deepEqual(names(filterRows(rows, "")), names(rows));
  assert.deepEqual(names(filterRows(rows, "OP")), ["ops"]);
  assert.deepEqual(names(filterRows(rows, "inactive")), ["ci"]);
  assert.deepEqual(names(filterRows(rows, "disabled")), ["old"]);
  const refused = row("bad", { health: { ok: false, reason: "probe refused" } });
  assert.deepEqual(names(filterRows([...rows, refused], "refused")), ["bad"]);
});

test("the table: one row per profile, '-' where a value is unknown", () => {
  assert.deepEqual(topCells(rows[0]!, NOW), ["liam", "9002", "active/running", "ok", "100", "1m05s", "1", "10B", "5.0", "no"]);
  assert.deepEqual(topCells(rows[2]!, NOW), ["ci", "9003", "inactive/dead", "-", "-", "-", "0", "-", "-", "-"]);
  assert.equal(topCells(rows[3]!, NOW)[2], "disabled");
  const lines = topTable(rows, NOW).split("\n");
  assert.match(lines[0]!, /^NAME\s+PORT\s+STATE\s+HEALTH\s+PID\s+UPTIME\s+RESTARTS\s+MEM\s+CPU%\s+PENDING$/);
  assert.equal(lines.length, 5);
  assert.deepEqual([formatBytes(1536), formatBytes(50 * 1024 * 1024), formatBytes(3 * 1024 ** 3)], ["1.5K", "50.0M", "3.0G"]);
  assert.deepEqual([formatUptime(59_999), formatUptime(3_600_000 + 7 * 60_000), formatUptime(2 * 86_400_000 + 4 * 3_600_000)], ["59s", "1h07m", "2d04h"]);
});

test("parseSortKey: a name or its key; anything else is exit 2 naming the choices", () => {
  assert.equal(parseSortKey("memory"), "memory");
  assert.equal(parseSortKey("c"), "cpu");
  assert.throws(() => parseSortKey("size"), fails(ExitCode.usage, /--sort "size" is not a sort key: give one of name, memory, cpu, restarts, port, state, uptime/));
  for (const v of ["constructor", "toString", "__proto__"]) assert.throws(() => parseSortKey(v), fails(ExitCode.usage, /is not a sort key/), v);
});

test("keys: sort keys, q and Ctrl-C quit, / types a filter that Enter keeps and Esc drops; arrows are ignored", () => {
  const k = new KeyReader();
  assert.deepEqual(k.read("m\u001b[Ac"), [{ kind: "sort", key: "memory" }, { kind: "sort", key: "cpu" }]);
  assert.deepEqual(k.read("x"), []);
  assert.deepEqual(k.read("/op"), [{ kind: "filter", text: "", done: false }, { kind: "filter", text: "o", done: false }, { kind: "filter", text: "op", done: false }]);
  assert.ok(k.typing);
  // While typing, q and the sort keys are text; backspace takes one back.
  assert.deepEqual(k.read("q\u007f\r"), [{ kind: "filter", text: "opq", done: false }, { kind: "filter", text: "op", done: false }, { kind: "filter", text: "op", done: true }]);
  assert.ok(!k.typing);
  assert.deepEqual(k.read("/x\u001b"), [{ kind: "filter", text: "", done: false }, { kind: "filter", text: "x", done: false }, { kind: "filter", text: null, done: true }]);
  assert.deepEqual(k.read("q"), [{ kind: "quit" }]);
  assert.deepEqual(k.read("/\u0003"), [{ kind: "filter", text: "", done: false }, { kind: "quit" }]);
});

test("cpuPercent: between two samples, else since the process started; a count that went back starts over", () => {
  const s = (atMs: number, cpuNs: number): UsageSample => ({ atMs, cpuNs, cpuSource: "cgroup", memoryBytes: 0, memorySource: "cgroup" });
  assert.equal(cpuPercent(s(NOW + 2000, 3e9), s(NOW, 2e9), NOW - 10_000), 50);
  assert.equal(cpuPercent(s(NOW, 1e9), null, NOW - 10_000), 10);
  assert.equal(cpuPercent(s(NOW, 1e8), s(NOW - 1000, 5e9), NOW - 1000), 10);
  assert.equal(cpuPercent({ ...s(NOW, 0), cpuNs: null }, null, NOW - 1000), null);
});

test("unitOfObjectPath reads back what unitObjectPath spells; other paths are no unit", () => {
  for (const u of ["agent-gateway@liam.service", "agent-gateway@p_07-x.service", "1a2.service", "é.service"]) assert.equal(unitOfObjectPath(unitObjectPath(u)), u);
  assert.equal(unitOfObjectPath("/org/freedesktop/systemd1/job/12"), null);
});

test("TopFeed: reads every profile once, then only a unit the manager signals a change of; a new profile's unit lists it", async () => {
  const w = await fakeWorld({ portRange: { from: 9100, to: 9110 } });
  try {
    const g = { json: true, verbose: false, start: true, wait: 5 };
    for (const name of ["liam", "ops"]) await add.run({ ...g, name } as never, w.ctx);
    w.systemd.props.set("agent-gateway@liam.service", { MemoryCurrent: 52_428_800, CPUUsageNSec: 1e9 });
    let changed = 0;
    let waiting: (() => void) | undefined;
    const feed = new TopFeed(w.ctx, await w.ctx.config(), { intervalMs: 3_600_000, probeEveryMs: 3_600_000, pendingEveryMs: 3_600_000 }, () => {
      changed++;
      waiting?.();
    }, (err) => assert.fail(String(err)));
    const nextChange = () => new Promise<void>((resolve) => (waiting = resolve));
    await feed.start(true);
    try {
      const byName = () => Object.fromEntries(feed.rows().map((r) => [r.name, r]));
      assert.deepEqual(Object.keys(byName()).sort(), ["liam", "ops"]);
      assert.deepEqual([byName().liam!.activeState, byName().liam!.port, byName().liam!.memoryBytes, byName().liam!.memorySource, byName().liam!.health?.ok], ["active", 9100, 52_428_800, "cgroup", true]);
      assert.equal(w.systemd.watchers.length, 1);

      // A stop, as its signals report it: only then is the unit read again.
      await w.systemd.stop("agent-gateway@ops.service");
      assert.equal(byName().ops!.activeState, "active");
      const stopped = nextChange();
      w.systemd.watchers[0]!.changed("agent-gateway@ops.service");
      w.systemd.watchers[0]!.changed("dbus.service");
      await stopped;
      assert.deepEqual([byName().ops!.activeState, byName().ops!.pid, byName().ops!.health], ["inactive", null, null]);

      await add.run({ ...g, name: "ci" } as never, w.ctx);
      const added = nextChange();
      w.systemd.watchers[0]!.changed("agent-gateway@ci.service");
      await added;
      assert.deepEqual(Object.keys(byName()).sort(), ["ci", "liam", "ops"]);
      assert.ok(changed >= 3);
    } finally {
      feed.stop();
    }
  } finally {
    await w.cleanup();
  }
});

test("TopFeed: a healthy profile is probed once per probeEveryMs, one whose probe failed again each interval", async () => {
  const w = await fakeWorld({ portRange: { from: 9120, to: 9130 } });
  try {
    await add.run({ json: true, verbose: false, start: true, wait: 5, name: "liam" } as never, w.ctx);
    let refusals = 1;
    w.prober.respond = () => (refusals-- > 0 ? { ok: false, reason: "refused", latencyMs: 1 } : undefined);
    const seenBefore = w.prober.seen.length;
    let onChange = (): void => undefined;
    const feed = new TopFeed(w.ctx, await w.ctx.config(), { intervalMs: 20, probeEveryMs: 3_600_000, pendingEveryMs: 3_600_000 }, () => onChange(), (err) => assert.fail(String(err)));
    await feed.start(false);
    try {
      assert.deepEqual(feed.rows()[0]!.health, { ok: false, reason: "probe refused" });
      // The next interval probes it again; from then on it is healthy, and left alone for probeEveryMs.
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`still ${JSON.stringify(feed.rows()[0]!.health)}`)), 5_000);
        onChange = () => {
          if (feed.rows()[0]!.health?.ok !== true) return;
          clearTimeout(deadline);
          resolve();
        };
      });
      const probes = w.prober.seen.length;
      await new Promise<void>((resolve) => {
        let intervals = 0;
        onChange = () => void (++intervals === 5 && resolve());
      });
      assert.equal(w.prober.seen.length, probes, "no probe of a healthy profile within probeEveryMs");
      assert.equal(probes - seenBefore, 2);
    } finally {
      feed.stop();
    }
  } finally {
    await w.cleanup();
  }
});

/**
 * A node process printing the live view (plain tables: stdout is no terminal) into /dev/full, with a feed
 * whose reading under way reports a change after the view was stopped, as TopFeed's in-flight reads can.
 */
const LATE_CHANGE = `
const { liveTop, topOptions } = await import(${JSON.stringify(new URL("../../src/commands/top.js", import.meta.url).pathname)});
let n = 0;
const makeFeed = (onChange) => ({
  start: async () => undefined,
  rows: () => [],
  notes: () => ["reading " + ++n],
  stop: () => setTimeout(onChange, 5),
});
const o = topOptions({ sort: "name", filter: "", interval: 0.1, once: false });
await liveTop({ env: {} }, o, makeFeed).then(() => process.stderr.write("ended\\n"), (e) => process.stderr.write("refused: " + e.name + "\\n"));
setTimeout(() => process.stderr.write("still alive after the late change\\n"), 300);
`;

test("top's plain lines into a full disk: a change reported after the view ended prints nothing (no second refusal to crash on)", async () => {
  const { spawnSync } = await import("node:child_process");
  const fs = await import("node:fs");
  const out = fs.openSync("/dev/full", "w");
  try {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", LATE_CHANGE], { stdio: ["ignore", out, "pipe"], encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "refused: OutputError\nstill alive after the late change\n");
  } finally {
    fs.closeSync(out);
  }
});

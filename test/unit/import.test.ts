import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import importVerb from "../../src/commands/import.js";
import { parseUnitPattern } from "../../src/core/import/unit-pattern.js";
import { UsageError } from "../../src/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const OLD = "hermes-gateway@liam.service";
const ENV = "API_SERVER_PORT=8642\nAPI_SERVER_KEY=sk-0123456789abcdef\n";

test("--from-unit: a template or one unit per profile; names come back out of unit names", () => {
  const t = parseUnitPattern("hermes-gateway@%i.service");
  assert.deepEqual([t.template, t.glob, t.unit("liam"), t.nameOf("hermes-gateway@liam.service"), t.nameOf("hermes-gateway@.service")], [true, "hermes-gateway@*.service", "hermes-gateway@liam.service", "liam", null]);
  const p = parseUnitPattern("hermes-gateway-%i.service");
  assert.deepEqual([p.template, p.nameOf("hermes-gateway-leo.service"), p.nameOf("hermes-gateway-x@.service")], [false, "leo", null]);
  for (const bad of ["hermes-gateway@.service", "a-%i-%i.service", "hermes-%i.timer", "h*-%i.service", "%h-%i.service", "agent-gateway@%i.service"]) {
    assert.throws(() => parseUnitPattern(bad), UsageError, bad);
  }
});

test("a failed gate: the old unit is disabled and stopped, ours started, then all of it undone in reverse, the .env as it was", async () => {
  const w = await fakeWorld({ envPath: "%h/.hermes/profiles/%i/.env", portVar: "API_SERVER_PORT" });
  try {
    // As `init` leaves them.
    for (const d of [".config/agent-profiles/profiles", ".local/state/agent-profiles/generations"]) await fs.mkdir(path.join(w.home, d), { recursive: true, mode: 0o700 });
    const env = path.join(w.home, ".hermes/profiles/liam/.env");
    await fs.mkdir(path.dirname(env), { recursive: true });
    await fs.writeFile(env, ENV, { mode: 0o644 });
    await w.systemd.enable([OLD]);
    await w.systemd.start(OLD);
    w.systemd.props.set(OLD, { LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 0, EnvironmentFiles: [[env, false]] });
    w.systemd.crashing.add("agent-gateway@liam.service");
    w.systemd.calls = [];
    const before = await snapshot(w.home);
    const r = await importVerb.run({ json: true, verbose: false, fromUnit: "hermes-gateway@%i.service", names: ["liam"], dryRun: false, wait: 1 } as never, w.ctx);
    assert.equal(r.exitCode, 7);
    assert.deepEqual(w.systemd.calls, [
      `disable ${OLD}`, `stop ${OLD}`, "enable agent-gateway@liam.service", "start agent-gateway@liam.service",
      "disable agent-gateway@liam.service", "stop agent-gateway@liam.service", `enable ${OLD}`, `start ${OLD}`,
    ]);
    // The lock files are the only trace; the .env keeps its bytes and its mode.
    const after = Object.fromEntries(Object.entries(await snapshot(w.home)).filter(([f]) => !f.includes("/locks/")));
    assert.deepEqual(after, Object.fromEntries(Object.entries(before).filter(([f]) => !f.includes("/locks/"))));
  } finally {
    await w.cleanup();
  }
});

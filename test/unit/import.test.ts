import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import importVerb from "../../src/commands/import.js";
import { findOldProfiles } from "../../src/core/import/discover.js";
import { takeOver } from "../../src/core/import/take-over.js";
import { parseUnitPattern } from "../../src/core/import/unit-pattern.js";
import type { Config } from "../../src/config.js";
import { addProfile } from "../../src/core/add-profile.js";
import { BadFileError, DuplicateValueError, EnvFileExistsError, InterruptedError, UsageError } from "../../src/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const OLD = "hermes-gateway@liam.service";
const ENV = "API_SERVER_PORT=8642\nAPI_SERVER_KEY=sk-0123456789abcdef\n";

/** A world with the env-path set as `init` leaves it, and old profile `name` run by its template instance. */
async function oldWorld(config: Partial<Config>, profiles: [string, string][], mode = 0o600): Promise<Awaited<ReturnType<typeof fakeWorld>>> {
  const w = await fakeWorld({ envPath: "%h/.hermes/profiles/%i/.env", portVar: "API_SERVER_PORT", ...config });
  for (const d of [".config/agent-profiles/profiles", ".local/state/agent-profiles/generations"]) await fs.mkdir(path.join(w.home, d), { recursive: true, mode: 0o700 });
  for (const [name, text] of profiles) {
    const env = path.join(w.home, ".hermes/profiles", name, ".env");
    await fs.mkdir(path.dirname(env), { recursive: true });
    await fs.writeFile(env, text, { mode });
    const unit = `hermes-gateway@${name}.service`;
    await w.systemd.enable([unit]);
    await w.systemd.start(unit);
    w.systemd.props.set(unit, { LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 0, EnvironmentFiles: [[env, false]] });
  }
  w.systemd.calls = [];
  return w;
}

const run = (w: Awaited<ReturnType<typeof fakeWorld>>, extra: Record<string, unknown> = {}) =>
  importVerb.run({ json: false, verbose: false, fromUnit: "hermes-gateway@%i.service", names: [], dryRun: false, wait: 1, ...extra } as never, w.ctx);

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
  const w = await oldWorld({}, [["liam", ENV]], 0o644);
  try {
    w.systemd.crashing.add("agent-gateway@liam.service");
    const before = await snapshot(w.home);
    const r = await run(w, { json: true, names: ["liam"] });
    assert.equal(r.exitCode, 7);
    assert.deepEqual(w.systemd.calls, [
      `disable ${OLD}`, `stop ${OLD}`, "enable agent-gateway@liam.service", "start agent-gateway@liam.service",
      "disable agent-gateway@liam.service", "stop agent-gateway@liam.service", `enable ${OLD}`, `start ${OLD}`,
    ]);
    // The lock files are the only trace; the .env keeps its bytes and its mode.
    const noLocks = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([f]) => !f.includes("/locks/")));
    assert.deepEqual(noLocks(await snapshot(w.home)), noLocks(before));
  } finally {
    await w.cleanup();
  }
});

test("an old unit enabled with --runtime: its runtime link goes on import, and a failed gate puts that link back, not a persistent one", async () => {
  const w = await oldWorld({}, [["liam", ENV], ["leo", "API_SERVER_PORT=8643\n"]]);
  try {
    for (const unit of [OLD, "hermes-gateway@leo.service"]) {
      w.systemd.enabled.delete(unit);
      w.systemd.runtimeEnabled.add(unit);
    }
    w.systemd.crashing.add("agent-gateway@liam.service");
    const failed = await run(w, { names: ["liam"] });
    assert.equal(failed.exitCode, 7);
    assert.deepEqual(w.systemd.calls.filter((c) => c.includes(OLD)), [`disable ${OLD}`, `disable --runtime ${OLD}`, `stop ${OLD}`, `enable --runtime ${OLD}`, `start ${OLD}`]);
    assert.equal(await w.systemd.unitFileState(OLD), "enabled-runtime");
    assert.match(failed.text, /hermes-gateway@liam\.service put back: enabled, running/);
    const r = await run(w, { names: ["leo"] });
    assert.equal(r.exitCode, 0, r.text);
    assert.equal(await w.systemd.unitFileState("hermes-gateway@leo.service"), "disabled", "left enabled-runtime, it would start beside ours");
  } finally {
    await w.cleanup();
  }
});

test("an old unit enabled by a link outside the user's directories (systemctl --global enable): that profile fails, put back as it was, naming root's command", async () => {
  const w = await oldWorld({}, [["liam", ENV]]);
  try {
    const fileState = w.systemd.unitFileState.bind(w.systemd);
    w.systemd.unitFileState = async (unit) => (unit === OLD ? "enabled" : fileState(unit));
    const before = await snapshot(w.home);
    const r = await run(w, { names: ["liam"] });
    assert.equal(r.exitCode, 7);
    assert.match(r.text, /FAILED liam: hermes-gateway@liam\.service is still enabled by a link outside your unit directories, and would start beside ours; ask root to run `systemctl --global disable hermes-gateway@liam\.service`/);
    assert.match(r.text, /hermes-gateway@liam\.service put back: enabled, running/);
    // Never stopped (the undo's start of it, running, does nothing), ours never started, no link of the user's made in its place.
    assert.deepEqual(w.systemd.calls, [`disable ${OLD}`, "disable agent-gateway@liam.service", "stop agent-gateway@liam.service", `start ${OLD}`]);
    const noLocks = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([f]) => !f.includes("/locks/")));
    assert.deepEqual(noLocks(await snapshot(w.home)), noLocks(before));
  } finally {
    await w.cleanup();
  }
});

test("without names: the loaded instances are found, imported in order, and said so; the old ones disabled", async () => {
  const w = await oldWorld({}, [["liam", ENV], ["leo", "API_SERVER_PORT=8643\n"]]);
  try {
    const dry = await run(w, { dryRun: true });
    assert.match(dry.text, /would import .*\n  leo: hermes-gateway@leo.service \(active\/running, enabled\) -> agent-gateway@leo.service, port 8643/);
    assert.deepEqual(w.systemd.calls, [], "a dry run changes nothing");
    const r = await run(w);
    assert.equal(r.exitCode, 0, r.text);
    assert.match(r.text, /imported leo: agent-gateway@leo.service healthy .*generation 1 known-good; hermes-gateway@leo.service disabled and stopped/);
    assert.ok(!w.systemd.enabled.has("hermes-gateway@liam.service"));
    assert.ok(w.systemd.enabled.has("agent-gateway@liam.service"));
    assert.ok(!r.text.includes("sk-0123456789abcdef"));
  } finally {
    await w.cleanup();
  }
});

test("without names: an instance enabled and not loaded since (only its .wants link tells) is found too", async () => {
  const w = await fakeWorld({ portVar: "API_SERVER_PORT" });
  try {
    const env = path.join(w.home, ".hermes/leo.env");
    await fs.mkdir(path.dirname(env), { recursive: true });
    await fs.writeFile(env, "API_SERVER_PORT=8643\n", { mode: 0o600 });
    const unit = "hermes-gateway@leo.service";
    await w.systemd.enable([unit]);
    // The manager loads it when asked (its properties), not before: the listing of loaded units lacks it.
    w.systemd.props.set(unit, { LoadState: "loaded", ActiveState: "inactive", SubState: "dead", MainPID: 0, EnvironmentFiles: [[env, false]] });
    await assert.rejects(run(w, { dryRun: true }), /nothing|no profile/i, "no link: nothing names it");
    const wants = path.join(w.ctx.paths.unitDir, "default.target.wants");
    await fs.mkdir(wants, { recursive: true });
    await fs.symlink("../hermes-gateway@.service", path.join(wants, unit));
    const dry = await run(w, { dryRun: true });
    assert.match(dry.text, /leo: hermes-gateway@leo.service \(inactive\/dead, enabled\) -> agent-gateway@leo.service, port 8643/);
  } finally {
    await w.cleanup();
  }
});

test("a [unique] key an imported profile shares with another: exit 5 naming both, nothing done", async () => {
  const w = await oldWorld({ uniqueKeys: ["API_SERVER_KEY"] }, [["liam", ENV], ["leo", ENV.replace("8642", "8643")]]);
  try {
    const before = await snapshot(w.home);
    await assert.rejects(run(w), (e: unknown) => e instanceof DuplicateValueError && e.exitCode === 5 && /"leo".*"liam"|"liam".*"leo"/.test(e.message));
    assert.deepEqual(w.systemd.calls, []);
    assert.deepEqual(await snapshot(w.home), before);
  } finally {
    await w.cleanup();
  }
});

test("add under an env-path refuses a name whose .env a gateway already has there (exit 4, pointing at import); the file untouched", async () => {
  const w = await oldWorld({}, [["liam", ENV]]);
  try {
    const before = await snapshot(w.home);
    await assert.rejects(addProfile(w.ctx, "liam", { port: null, extra: new Map(), enable: true, start: false, waitMs: 1000, command: "profiles add liam" }), (e: unknown) => e instanceof EnvFileExistsError && e.exitCode === 4 && /profiles import/.test(e.hint ?? ""));
    assert.deepEqual(await snapshot(w.home), before);
  } finally {
    await w.cleanup();
  }
});

test("an env-path .env that is a symlink to nothing (stow, before the file was committed): import refuses it (exit 12), the link kept", async () => {
  const w = await oldWorld({}, [["liam", ENV]]);
  try {
    // The old unit reads a file of its own; where the env-path says, a link that leads nowhere.
    const source = path.join(w.home, "old", "liam.env");
    await fs.mkdir(path.dirname(source));
    await fs.writeFile(source, ENV, { mode: 0o600 });
    w.systemd.props.set(OLD, { LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 0, EnvironmentFiles: [[source, false]] });
    const target = path.join(w.home, ".hermes/profiles/liam/.env");
    await fs.rm(target);
    await fs.symlink("../../../dotfiles/liam.env", target);
    const before = await snapshot(w.home);
    await assert.rejects(run(w, { json: true, names: ["liam"] }), (e: unknown) => e instanceof BadFileError && e.exitCode === 12 && /is a symlink to \.\.\/\.\.\/\.\.\/dotfiles\/liam\.env that leads to no file/.test(e.message));
    assert.ok((await fs.lstat(target)).isSymbolicLink(), "the link is kept");
    assert.deepEqual(await snapshot(w.home), before);
    assert.deepEqual(w.systemd.calls, [], "no unit touched");
  } finally {
    await w.cleanup();
  }
});

test("a signal while the old unit stops: its stop is waited for, ours neither enabled nor started, and the profile put back as after a failure", async () => {
  const w = await oldWorld({}, [["liam", ENV]]);
  try {
    const before = await snapshot(w.home);
    const config = await w.ctx.config();
    const { found } = await findOldProfiles(w.systemd, w.ctx.paths, config, parseUnitPattern("hermes-gateway@%i.service"), ["liam"]);
    const abort = new AbortController();
    const stop = w.systemd.stop.bind(w.systemd);
    w.systemd.stop = async (unit: string) => {
      if (unit === OLD) abort.abort("SIGTERM");
      return stop(unit);
    };
    await assert.rejects(takeOver(w.ctx, found[0]!, 1000, abort.signal), (e: unknown) => {
      assert.ok(e instanceof InterruptedError);
      assert.equal(e.exitCode, 143);
      assert.equal(e.message, `liam: SIGTERM stopped its import before its gate; ${OLD} put back: enabled, running; nothing of the import is left`);
      return true;
    });
    // Ours never enabled: from the old unit's stop straight to the undo, which no second signal cuts.
    assert.deepEqual(w.systemd.calls, [
      `disable ${OLD}`, `stop ${OLD}`,
      "disable agent-gateway@liam.service", "stop agent-gateway@liam.service", `enable ${OLD}`, `start ${OLD}`,
    ]);
    const noLocks = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([f]) => !f.includes("/locks/")));
    assert.deepEqual(noLocks(await snapshot(w.home)), noLocks(before));
  } finally {
    await w.cleanup();
  }
});

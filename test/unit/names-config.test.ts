import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { assertProfileName } from "../../src/store/names.js";
import { ExitCode, UsageError, BadFileError, NotInitialisedError } from "../../src/errors.js";
import { DEFAULT_CONFIG, loadConfig, saveConfig, type Config } from "../../src/config.js";
import { parseRange, settingFromFlag, SETTINGS } from "../../src/settings.js";
import { envFile, envOutside, resolvePaths } from "../../src/paths.js";
import { envPathProblem } from "../../src/env-path.js";

test("profile names: the rule's edges", () => {
  for (const good of ["a", "liam", "0day", "a-b_c", "x".repeat(32)]) assert.equal(assertProfileName(good), good);
  for (const bad of ["", "../x", "a/b", "Liam", "sp ace", "żółw", "x".repeat(33), "-lead", "_lead", ".", "a.b"]) {
    assert.throws(
      () => assertProfileName(bad),
      (err: unknown) => err instanceof UsageError && err.exitCode === ExitCode.usage && /1-32 characters/.test(err.message),
      bad,
    );
  }
});

test("ranges: within 1024-65535 and ordered", () => {
  assert.deepEqual(parseRange("8600-8699"), { from: 8600, to: 8699 });
  assert.deepEqual(parseRange("2000-2000"), { from: 2000, to: 2000 });
  for (const bad of ["80-90", "9000-8000", "1-2-3", "abc", "8000-70000", ""]) assert.equal(typeof parseRange(bad), "string", bad);
});

test("XDG paths: absolute values honoured, relative ones ignored", () => {
  const p = resolvePaths({ HOME: "/home/u", XDG_CONFIG_HOME: "/cfg", XDG_STATE_HOME: "rel/state" });
  assert.equal(p.configFile, "/cfg/agent-profiles/config.ini");
  assert.equal(p.profilesDir, "/cfg/agent-profiles/profiles");
  assert.equal(p.unitDir, "/cfg/systemd/user");
  assert.equal(p.stateDir, "/home/u/.local/state/agent-profiles");
});

test("env-path: %i required, only %h beside it, absolute and normal once expanded; envFile follows it", () => {
  for (const good of ["", "%h/.hermes/profiles/%i/.env", "/srv/gw/%i.env", "%h/p-%i/x/.env"]) assert.equal(envPathProblem(good), null, good);
  const bad: [string, RegExp][] = [
    ["%h/.hermes/profiles/.env", /must contain %i/],
    ["%h/%u/%i/.env", /specifier "%u"/],
    ["/x/%i/.env%", /specifier "%"/],
    ["rel/%i/.env", /absolute/],
    ["%h/../%i/.env", /normal path/],
    ["%h/%i/", /normal path/],
    ["%h/my profiles/%i/.env", /whitespace/],
  ];
  for (const [pattern, why] of bad) assert.match(envPathProblem(pattern) ?? "", why, pattern);
  const p = resolvePaths({ HOME: "/home/u" });
  assert.equal(envFile(p, "liam"), "/home/u/.config/agent-profiles/profiles/liam/.env");
  assert.equal(envOutside(p), false);
  p.envPath = "%h/.hermes/profiles/%i/.env";
  assert.equal(envFile(p, "liam"), "/home/u/.hermes/profiles/liam/.env");
  assert.equal(envOutside(p), true);
});

test("config.ini round-trips, is 0600, and a broken one names the field", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-cfg-"));
  try {
    const paths = resolvePaths({ HOME: home });
    await assert.rejects(loadConfig(paths), NotInitialisedError);
    const config = { ...DEFAULT_CONFIG, portRange: { from: 9000, to: 9010 }, portVar: "API_SERVER_PORT", exec: "/usr/bin/hermes --profile %i" };
    await saveConfig(paths, config);
    assert.deepEqual(await loadConfig(paths), config);
    assert.equal((await fs.stat(paths.configFile)).mode & 0o777, 0o600);
    await fs.writeFile(paths.configFile, "[ports]\nrange = 9-1\n");
    await assert.rejects(loadConfig(paths), (err: unknown) => err instanceof BadFileError && /ports\.range/.test(err.message) && err.exitCode === ExitCode.badFile);
    await fs.writeFile(paths.configFile, "[ports]\nvariable = 1BAD\n");
    await assert.rejects(loadConfig(paths), (err: unknown) => err instanceof BadFileError && /ports\.variable/.test(err.message));
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("the settings table: every Config field has one setting; a bad value is refused alike from the file (12) and from init's flag (2)", async () => {
  assert.deepEqual(SETTINGS.map((s) => s.key).sort(), Object.keys(DEFAULT_CONFIG).sort());
  assert.equal(new Set(SETTINGS.map((s) => `${s.section}.${s.name}`)).size, SETTINGS.length);
  const bad: Partial<Record<keyof Config, string>> = {
    portRange: "9000-80", portVar: "1X", exec: "gw ${A", healthPath: "x", logDir: "rel", probe: "udp", probeTimeoutMs: "5",
    hostVar: "A-B", serviceType: "forking", stopTimeoutSec: "0", reloadSignal: "KILL", keepGenerations: "0", sweepTimer: "maybe",
    sweepTextfile: "/tmp/x.txt", sweepWebhook: "ftp://x", secretKeys: "a-b", sweepRollbackBroken: "maybe",
    restartPolicy: "StartLimitBurst = lots", logMaxBytes: "ten megs", logKeep: "0", uniqueKeys: "BOT-TOKEN",
    envPath: "%h/.hermes/profiles/.env",
  };
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-settings-"));
  try {
    const paths = resolvePaths({ HOME: home });
    for (const s of SETTINGS) {
      const value = bad[s.key];
      assert.ok(value !== undefined, `a bad value for ${s.key}`);
      await fs.mkdir(path.dirname(paths.configFile), { recursive: true });
      // A whole-section setting's value is the section's lines.
      await fs.writeFile(paths.configFile, `[${s.section}]\n${s.name === null ? value : `${s.name} = ${value}`}\n`);
      await assert.rejects(loadConfig(paths), (e: unknown) => e instanceof BadFileError && e.message.includes(`${s.section}.${s.name ?? ""}`), s.key);
      if (s.flag && !s.flag.boolean) {
        await assert.rejects(settingFromFlag(s, value), (e: unknown) => e instanceof UsageError && e.message.startsWith(`--${s.flag!.name} `), s.key);
      }
    }
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

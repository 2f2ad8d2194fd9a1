/**
 * The kept GetUnitFileState answers (src/systemd/unit-file-cache.ts) against a real manager: hand changes
 * of the unit files (a symlink removed without daemon-reload, a drop-in's [Install] edited in place, a
 * mask, a runtime enable) show in `list`,
 * `health` and `sweep` at once and after the cache has settled again, and the cache is really used.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { startSandbox, type Sandbox } from "../helpers/sandbox.js";

// Ports of this file only: 19340-19349.
const RANGE = "19340-19349";
const DEADLINE_MS = 20_000;

let sb: Sandbox;
let cacheFile: string;
let wants: string;
const profiles = (args: string[]) => sb.profiles(args, { timeoutMs: 60_000 });

interface Kept { version: number; fingerprint: string; states: Record<string, string> }
const kept = (): Kept | null => (fs.existsSync(cacheFile) ? (JSON.parse(fs.readFileSync(cacheFile, "utf8")) as Kept) : null);

before(async () => {
  sb = await startSandbox();
  cacheFile = path.join(sb.home, ".cache", "agent-profiles", "unit-file-states.json");
  wants = path.join(sb.home, ".config", "systemd", "user", "default.target.wants");
  const init = await profiles(["init", "--range", RANGE, "--log-dir", path.join(sb.home, "logs"), "--no-sweep"]);
  assert.equal(init.code, 0, init.stderr);
  for (const n of ["one", "two"]) {
    const r = await profiles(["add", n]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await sb?.stop();
});

/** `list --json`'s enabled column, by profile. */
async function enabled(): Promise<Record<string, boolean>> {
  const r = await profiles(["list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries((JSON.parse(r.stdout) as { name: string; enabled: boolean }[]).map((x) => [x.name, x.enabled]));
}

/**
 * Runs `list` until the cache holds `state` for `unit` (it is kept once the last change is RACY_MS old),
 * under a fingerprint other than `not` (one taken after a change), checking that every run on the way
 * shows `expected`.
 */
async function listUntilKept(expected: Record<string, boolean>, unit: string, state: string, not?: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    assert.deepEqual(await enabled(), expected);
    const now = kept();
    if (now?.states[unit] === state && now.fingerprint !== not) return;
    assert.ok(Date.now() < deadline, `the cache did not come to hold ${unit}: ${state} within ${DEADLINE_MS} ms: ${JSON.stringify(kept()?.states)}`);
  }
}

test("hand changes of the unit files show at once and after the cache settles, and the settled cache is what list reads", async () => {
  await listUntilKept({ one: true, two: true }, "agent-gateway@two.service", "enabled");
  assert.equal(fs.statSync(cacheFile).mode & 0o777, 0o600);

  // The cache is in use: an answer planted under the current fingerprint is what list shows.
  const planted = kept()!;
  fs.writeFileSync(cacheFile, JSON.stringify({ ...planted, states: { ...planted.states, "agent-gateway@one.service": "masked" } }));
  assert.deepEqual(await enabled(), { one: false, two: true });
  fs.writeFileSync(cacheFile, JSON.stringify(planted));
  assert.deepEqual(await enabled(), { one: true, two: true });

  // Disabled by hand, without daemon-reload (the unit's UnitFileState property stays "enabled"): seen at once, and after.
  const rm = await sb.exec("rm", [path.join(wants, "agent-gateway@two.service")]);
  assert.equal(rm.code, 0, rm.stderr);
  await listUntilKept({ one: true, two: false }, "agent-gateway@two.service", "disabled");
  const health = await profiles(["health", "--json"]);
  assert.deepEqual(JSON.parse(health.stdout).map((v: { name: string; enabled: boolean }) => [v.name, v.enabled]), [["one", true], ["two", false]]);
  const sweep = await profiles(["sweep", "--json"]);
  assert.equal(sweep.code, 0, sweep.stderr);
  assert.deepEqual(JSON.parse(sweep.stdout).profiles.map((v: { name: string; enabled: boolean }) => [v.name, v.enabled]), [["one", true], ["two", false]]);

  // [Install] in a drop-in counts: WantedBy= emptied in an existing .conf of the template makes the
  // disabled instance "static"; the edit is in place, so only the file itself changes.
  const dropIn = path.join(sb.home, ".config", "systemd", "user", "agent-gateway@.service.d", "90-test.conf");
  const withoutDropIn = kept()!.fingerprint;
  const mk = await sb.exec("sh", ["-c", 'mkdir -p "$(dirname "$1")" && printf "[Service]\\n" > "$1"', "sh", dropIn]);
  assert.equal(mk.code, 0, mk.stderr);
  await listUntilKept({ one: true, two: false }, "agent-gateway@two.service", "disabled", withoutDropIn);
  const beforeEdit = kept()!.fingerprint;
  const edit = await sb.exec("sh", ["-c", 'printf "[Install]\\nWantedBy=\\n" >> "$1"', "sh", dropIn]);
  assert.equal(edit.code, 0, edit.stderr);
  await listUntilKept({ one: true, two: false }, "agent-gateway@two.service", "static", beforeEdit);
  const rmDropIn = await sb.exec("rm", ["-r", path.dirname(dropIn)]);
  assert.equal(rmDropIn.code, 0, rmDropIn.stderr);
  await listUntilKept({ one: true, two: false }, "agent-gateway@two.service", "disabled");

  // Masked through the manager, enabled for this boot only: each a file or symlink in a directory of the search path.
  for (const [args, expected, unit, state] of [
    [["mask", "agent-gateway@one.service"], { one: false, two: false }, "agent-gateway@one.service", "masked"],
    [["unmask", "agent-gateway@one.service"], { one: true, two: false }, "agent-gateway@one.service", "enabled"],
    [["enable", "--runtime", "agent-gateway@two.service"], { one: true, two: true }, "agent-gateway@two.service", "enabled-runtime"],
  ] as const) {
    const r = await sb.exec("systemctl", ["--user", ...args]);
    assert.equal(r.code, 0, `systemctl ${args.join(" ")}: ${r.stderr}`);
    assert.deepEqual(await enabled(), expected, `at once after systemctl ${args.join(" ")}`);
    await listUntilKept(expected, unit, state);
  }
});

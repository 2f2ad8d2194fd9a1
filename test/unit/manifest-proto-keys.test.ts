// Keys that name Object.prototype's members (`__proto__`, `constructor`, `toString`, ...) are valid
// environment variable names: export, plan, apply and `env --json` treat them as any other key.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import apply from "../../src/commands/apply.js";
import envVerb, { type EnvResult } from "../../src/commands/env.js";
import exportVerb from "../../src/commands/export.js";
import plan from "../../src/commands/plan.js";
import type { ApplyResult } from "../../src/core/manifest/apply.js";
import type { ExportResult } from "../../src/core/manifest/export.js";
import { ManifestError, parseManifest } from "../../src/core/manifest/parse.js";
import type { ManifestPlan } from "../../src/core/manifest/plan.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { fakeWorld } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
const applyArgs = (file: string) => ({ ...g, file, prune: false, yes: true, wait: 5, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true });

test("prototype-named keys: export writes each, plan of the export has nothing to do, apply keeps them", async () => {
  const w = await fakeWorld();
  try {
    const file = path.join(w.home, "profiles.ini");
    await add.run({ ...g, name: "a", port: "8601", env: KEYS.map((k) => `${k}=v-${k}`), start: true, wait: 5 }, w.ctx);
    const before = await fs.readFile(envFile(w.ctx.paths, "a"), "utf8");
    for (const k of KEYS) assert.match(before, new RegExp(`\\n${k}="v-${k}"\\n`), `add wrote ${k}`);

    const ex = (await exportVerb.run({ ...g }, w.ctx)).data as ExportResult;
    assert.deepEqual(Object.keys(ex.profiles[0]!.env), KEYS, "every key, in .env order");
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(ex)).profiles[0].env), KEYS, "and in export --json");
    // A lowercase key is written env.KEY (a bare lowercase key is a setting).
    assert.match(ex.manifest, /\n__proto__ = v-__proto__\nenv\.constructor = v-constructor\ntoString = v-toString\nhasOwnProperty = v-hasOwnProperty\nvalueOf = v-valueOf\n/);

    await fs.writeFile(file, ex.manifest);
    const p = await plan.run({ ...g, file, prune: true }, w.ctx);
    assert.equal(p.exitCode ?? 0, 0, p.text);
    assert.deepEqual((p.data as ManifestPlan).profiles.map((c) => [c.name, c.action, c.env]), [["a", "none", []]]);
    const r = (await apply.run(applyArgs(file), w.ctx)).data as ApplyResult;
    assert.equal(r.plan.pending, 0);
    assert.equal(await fs.readFile(envFile(w.ctx.paths, "a"), "utf8"), before, "apply keeps every key");

    // A changed value of each: plan shows it as changed, apply writes it.
    await fs.writeFile(file, ex.manifest.replace(/= v-/g, "= w-"));
    const p2 = await plan.run({ ...g, file, prune: true }, w.ctx);
    assert.equal(p2.exitCode, ExitCode.changesPending);
    assert.deepEqual((p2.data as ManifestPlan).profiles[0]!.env.map((d) => [d.key, d.kind, d.new]), KEYS.map((k) => [k, "changed", `w-${k}`]));
    await apply.run(applyArgs(file), w.ctx);
    assert.equal(await fs.readFile(envFile(w.ctx.paths, "a"), "utf8"), before.replace(/="v-/g, '="w-'));

    // env --json holds them as its own keys.
    const e = (await envVerb.run({ ...g, name: "a", showSecrets: false }, w.ctx)).data as EnvResult;
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(e)).variables), ["PORT", ...KEYS]);
  } finally {
    await w.cleanup();
  }
});

test("prototype-named keys in a manifest: environment keys in a section and in [defaults]; bare `constructor` is an unknown setting, said plainly", () => {
  const m = parseManifest(
    ["[defaults]", "__proto__ = d", "env.constructor = d", "[profile a]", "port = 8601", "toString = t", "hasOwnProperty = h", "env.constructor = c"].join("\n"),
    "/tmp/p.ini",
    "PORT",
  );
  assert.deepEqual([...m.profiles[0]!.env], [["__proto__", "d"], ["constructor", "c"], ["toString", "t"], ["hasOwnProperty", "h"]]);
  for (const section of ["[defaults]", "[profile a]"]) {
    assert.throws(
      () => parseManifest(`${section}\nconstructor = x\n`, "/tmp/p.ini", "PORT"),
      (err: unknown) => err instanceof ManifestError && /line 2: unknown setting "constructor" .*written env\.constructor\)$/.test(err.message) && !err.message.includes("native code"),
    );
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import add from "../../src/commands/add.js";
import plan from "../../src/commands/plan.js";
import set from "../../src/commands/set.js";
import { loadConfig, saveConfig } from "../../src/config.js";
import { settingFromFlag, SETTINGS } from "../../src/settings.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };
const TOKEN = "bot-token-0123456789";

/** Exit 5 naming both profiles and the key, never the value. */
const duplicate = (key: string, a: string, b: string) => (err: unknown) =>
  err instanceof AppError && err.exitCode === ExitCode.portTaken && err.message.includes(key) && err.message.includes(`"${a}"`) && err.message.includes(`"${b}"`) && !err.message.includes(TOKEN);

test("unique keys: add, set and a manifest refuse a value another profile holds (exit 5, both named, the value never), nothing written", async () => {
  const w = await fakeWorld({ uniqueKeys: ["BOT_TOKEN", "DISCORD_TOKEN"] });
  try {
    await add.run({ ...g, name: "a", port: "8601", env: [`BOT_TOKEN=${TOKEN}`], start: true, wait: 5 }, w.ctx);
    await add.run({ ...g, name: "b", port: "8602", env: ["BOT_TOKEN=other-token-42", "DISCORD_TOKEN="], start: true, wait: 5 }, w.ctx);
    const before = await snapshot(w.home);
    await assert.rejects(add.run({ ...g, name: "c", port: "8603", env: [`BOT_TOKEN=${TOKEN}`], start: true, wait: 5 }, w.ctx), duplicate("BOT_TOKEN", "c", "a"));
    await assert.rejects(set.run({ ...g, name: "b", pairs: [`BOT_TOKEN=${TOKEN}`], restart: false, wait: 5 }, w.ctx), duplicate("BOT_TOKEN", "b", "a"));
    const file = path.join(w.home, "m.ini");
    for (const text of [`[profile x]\nport = 8604\nBOT_TOKEN = ${TOKEN}\n`, `[profile a]\nport = 8601\nBOT_TOKEN = t-1\n[profile b]\nport = 8602\nBOT_TOKEN = t-1\n`]) {
      await fs.writeFile(file, text);
      await assert.rejects(plan.run({ ...g, file, prune: false }, w.ctx), (err: unknown) => err instanceof AppError && err.exitCode === ExitCode.portTaken && !err.message.includes(TOKEN), text);
    }
    await fs.rm(file);
    assert.deepEqual(await snapshot(w.home), before, "nothing written");
    // An empty value is no value: two profiles may both leave it empty; a token of its own passes.
    await add.run({ ...g, name: "d", port: "8605", env: ["DISCORD_TOKEN=", "BOT_TOKEN=third-token-7"], start: true, wait: 5 }, w.ctx);
    assert.match(await fs.readFile(envFile(w.ctx.paths, "d"), "utf8"), /BOT_TOKEN="third-token-7"/);
    // With --prune the manifest may give a pruned profile's token to another.
    await fs.writeFile(file, `[profile b]\nport = 8602\nBOT_TOKEN = ${TOKEN}\nDISCORD_TOKEN =\n[profile d]\nport = 8605\nDISCORD_TOKEN =\nBOT_TOKEN = third-token-7\n`);
    const r = await plan.run({ ...g, file, prune: true }, w.ctx);
    assert.equal(r.exitCode, ExitCode.changesPending);
  } finally {
    await w.cleanup();
  }
});

test("init --unique: names checked (exit 2), kept in config.ini's [unique] keys", async () => {
  const flag = SETTINGS.find((s) => s.flag?.name === "unique")!;
  assert.deepEqual(await settingFromFlag(flag, "TELEGRAM_BOT_TOKEN, DISCORD_TOKEN"), ["TELEGRAM_BOT_TOKEN", "DISCORD_TOKEN"]);
  assert.deepEqual(await settingFromFlag(flag, ""), []);
  await assert.rejects(settingFromFlag(flag, "BAD-KEY"), (err: unknown) => err instanceof AppError && err.exitCode === ExitCode.usage);
  const w = await fakeWorld();
  try {
    const c = await loadConfig(w.ctx.paths);
    await saveConfig(w.ctx.paths, { ...c, uniqueKeys: ["BOT_TOKEN"] });
    assert.match(await fs.readFile(w.ctx.paths.configFile, "utf8"), /\[unique\]\nkeys=BOT_TOKEN/);
    assert.deepEqual((await loadConfig(w.ctx.paths)).uniqueKeys, ["BOT_TOKEN"]);
  } finally {
    await w.cleanup();
  }
});

test("doctor: profiles sharing a [unique] key's value are a problem naming both, with the fix; the value never", async () => {
  const w = await fakeWorld({ uniqueKeys: ["BOT_TOKEN"] });
  try {
    for (const [n, p] of [["a", "8601"], ["b", "8602"], ["c", "8603"]] as const) {
      await add.run({ ...g, name: n, port: p, env: [`BOT_TOKEN=own-${n}`], start: false, wait: 5 }, w.ctx);
    }
    // b and c got the token by hand (add refuses the second one).
    for (const n of ["a", "b", "c"]) await fs.writeFile(envFile(w.ctx.paths, n), `PORT="860${n === "a" ? 1 : n === "b" ? 2 : 3}"\nBOT_TOKEN="${TOKEN}"\n`, { mode: 0o600 });
    const { uniqueValuesCheck } = await import("../../src/core/doctor/unique.js");
    const config = await loadConfig(w.ctx.paths);
    const { problems } = await uniqueValuesCheck.run({ ctx: w.ctx, config, profiles: ["a", "b", "c"] } as never, { config });
    assert.deepEqual(problems.map((p) => p.fix), ["profiles set b BOT_TOKEN --stdin   # its own value, typed without echo", "profiles set c BOT_TOKEN --stdin   # its own value, typed without echo"]);
    assert.ok(problems.every((p) => !p.message.includes(TOKEN)));
  } finally {
    await w.cleanup();
  }
});

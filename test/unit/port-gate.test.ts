/** A profile without a usable port never starts: its gate could vouch for nothing but the unit's state. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import add from "../../src/commands/add.js";
import roll from "../../src/commands/roll.js";
import rollback from "../../src/commands/rollback.js";
import set from "../../src/commands/set.js";
import { restart, start } from "../../src/commands/start.js";
import { ExitCode } from "../../src/errors.js";
import { envFile } from "../../src/paths.js";
import { commitEnvText, history } from "../../src/store/generations.js";
import { fails } from "../helpers/errors.js";
import { fakeWorld, snapshot } from "../helpers/fakes.js";

const g = { json: true, verbose: false };

/** Profiles a, b, c on ports 9500-9502, each healthy at a known-good generation 1. */
async function world() {
  const w = await fakeWorld({ portRange: { from: 9500, to: 9509 } });
  for (const name of ["a", "b", "c"]) await add.run({ ...g, name, start: true, wait: 5 }, w.ctx);
  const starts = () => w.systemd.calls.filter((c) => c.startsWith("start") || c.startsWith("restart")).length;
  const write = (name: string, text: string) => fs.writeFile(envFile(w.ctx.paths, name), text, { mode: 0o600 });
  return Object.assign(w, { starts, write });
}

test("a .env without a usable port: start, restart, roll, set --restart and rollback exit 12 naming the file; nothing starts or is written", async () => {
  const w = await world();
  try {
    const file = envFile(w.ctx.paths, "a");
    const before = w.starts();
    for (const [text, problem] of [['PORT="80"\n', /PORT="80" is not a port from 1024 to 65535/], ['LOG_LEVEL="debug"\n', /PORT is not set, so the gateway has no port/]] as const) {
      await w.write("a", text);
      const files = await snapshot(w.home);
      const named = fails(ExitCode.badFile, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${problem.source}`), /profiles set a PORT=N/);
      await assert.rejects(start.run({ ...g, names: ["a"], wait: 1 }, w.ctx), named);
      await assert.rejects(restart.run({ ...g, names: ["b", "a"], wait: 1 }, w.ctx), named);
      await assert.rejects(roll.run({ ...g, maxParallel: 1, canary: 0, minHealthyTime: 0, healthyDeadline: 1, progressDeadline: 0, autoRevert: true, dryRun: false } as never, w.ctx), named);
      await assert.rejects(set.run({ ...g, name: "a", pairs: ["X=1"], restart: true, wait: 1 }, w.ctx), named);
      assert.deepEqual(await snapshot(w.home), files, "nothing was written");
    }
    // Without a restart, set still writes (nothing starts): the generation has no port.
    assert.equal((await set.run({ ...g, name: "a", pairs: ["X=1"], restart: false, wait: 1 }, w.ctx)).exitCode, undefined);
    // A generation without a port is not restored by a rollback that would restart it; without a restart it is.
    await w.write("a", 'PORT="9500"\n');
    const h = await history(w.ctx.paths, "a");
    const portless = h.generations.at(-1)!.number;
    await commitEnvText(w.ctx.paths, "a", 'PORT="9500"\nY="2"\n', "set (test)");
    const files = await snapshot(w.home);
    await assert.rejects(
      rollback.run({ ...g, name: "a", to: String(portless), restart: true, wait: 1 }, w.ctx),
      fails(ExitCode.badFile, new RegExp(`generations/a/${portless}\\.env: PORT is not set`), /profiles history a/),
    );
    assert.deepEqual(await snapshot(w.home), files);
    assert.equal(w.starts(), before, "nothing was started");
    assert.equal(((await rollback.run({ ...g, name: "a", to: String(portless), restart: false, wait: 1 }, w.ctx)).data as { restarted: boolean }).restarted, false);
  } finally {
    await w.cleanup();
  }
});

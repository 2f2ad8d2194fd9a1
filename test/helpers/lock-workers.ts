/** Runs `count` lock-worker processes at once on the "ports" lock under `dir` and checks they took it in turn. */
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/lock-worker.js");

export async function lockWorkersTakeTurns(dir: string, log: string, count: number): Promise<void> {
  const runs = Array.from({ length: count }, () =>
    new Promise<number>((resolve) => fork(WORKER, [dir, log], { stdio: "ignore" }).on("exit", (c) => resolve(c ?? -1))),
  );
  assert.deepEqual(await Promise.all(runs), Array(count).fill(0));
  const lines = (await fs.readFile(log, "utf8")).trim().split("\n");
  assert.equal(lines.length, 2 * count);
  // Each enter must be followed by the same pid's leave.
  for (let i = 0; i < lines.length; i += 2) {
    const [e, pid] = lines[i]!.split(" ");
    assert.equal(e, "enter");
    assert.equal(lines[i + 1], `leave ${pid}`);
  }
}

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { type ExecResult, type Sandbox, userPaths } from "../helpers/sandbox.js";
import { checkEnvFiles, healthStatus, initialisedSandbox } from "./util.js";

// Ports of this file only (the reliability files run two at a time).
const RANGE = "19500-19549";
const COUNT = 20;

let sb: Sandbox;
const figures = { adds: 0, distinctPorts: 0, healthy: 0, envFilesChecked: 0 };

before(async () => {
  sb = await initialisedSandbox(RANGE);
});
after(async () => {
  console.log(`# reliability figures (concurrent add): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

test(`${COUNT} profiles add at once: distinct ports, all healthy, no torn .env`, async () => {
  const names = Array.from({ length: COUNT }, (_, i) => `c${String(i).padStart(2, "0")}`);
  // All started together: the port lock and the store must make them queue, not collide.
  const results: ExecResult[] = await Promise.all(
    names.map((n) => sb.profiles(["add", n, "--wait", "90", "--json"], { timeoutMs: 180_000 })),
  );
  figures.adds = results.length;
  const ports = new Map<string, number>();
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `add ${names[i]}: exit ${r.code}\n${r.stderr}`);
    const data = JSON.parse(r.stdout) as { name: string; port: number; healthy: boolean };
    assert.equal(data.healthy, true, names[i]);
    ports.set(data.name, data.port);
  });
  const distinct = new Set(ports.values());
  figures.distinctPorts = distinct.size;
  assert.equal(distinct.size, COUNT, `ports: ${JSON.stringify([...ports])}`);
  for (const p of distinct) assert.ok(p >= 19500 && p <= 19549, `port ${p} outside ${RANGE}`);

  const list = JSON.parse((await sb.profiles(["list", "--json"])).stdout) as { name: string; port: number; activeState: string }[];
  assert.deepEqual(list.map((r) => r.name), names);
  for (const row of list) {
    assert.equal(row.activeState, "active", row.name);
    assert.equal(row.port, ports.get(row.name), row.name);
    assert.equal(await healthStatus(row.port), 200, `${row.name} /health`);
    figures.healthy++;
  }

  const checks = await checkEnvFiles(userPaths(sb));
  assert.equal(checks.length, COUNT);
  for (const c of checks) {
    assert.deepEqual(c.problems, [], c.name);
    // Nothing but the add wrote it: the .env is exactly generation 1.
    assert.equal(c.current, 1, c.name);
    figures.envFilesChecked++;
  }
});

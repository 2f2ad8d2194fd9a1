import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { type Sandbox, spawnCli, userPaths } from "../helpers/sandbox.js";
import { waitUntilNode } from "../helpers/proc-readings.js";
import { checkEnvFiles, healthStatus, initialisedSandbox, prng, seed } from "./util.js";

// Ports of this file only.
const RANGE = "19550-19599";
const NAMES = ["k1", "k2", "k3", "k4"];
const ROUNDS = 50;
// A roll killed here is resumed by the next one with these same flags, so keep its gate short.
const ROLL_FLAGS = ["--min-healthy-time", "0", "--healthy-deadline", "15"];

let sb: Sandbox;
const SEED = seed("kill");
const rand = prng(SEED);
const figures = { rounds: 0, killedMidRun: 0, finishedBeforeKill: 0, setRuns: 0, rollRuns: 0, envChecks: 0, resumedRolls: 0, windowsMs: {} as Record<string, number>, seed: SEED };

/** What kind of run a command is, for its kill window: `set`, `set --restart`, `roll --max-parallel N`. */
function kindOf(args: readonly string[]): string {
  if (args[0] === "set") return args.includes("--restart") ? "set --restart" : "set";
  return `roll --max-parallel ${args[args.indexOf("--max-parallel") + 1]}`;
}

const KINDS: Record<string, string[]> = {
  set: ["set", "k1", "RL_CAL=1"],
  "set --restart": ["set", "k1", "RL_CAL=2", "--restart", "--wait", "15"],
  ...Object.fromEntries(["1", "2", "3"].map((n) => [`roll --max-parallel ${n}`, ["roll", "--max-parallel", n, ...ROLL_FLAGS]])),
};

before(async () => {
  sb = await initialisedSandbox(RANGE, NAMES);
  // Each kind of run is timed once, uninterrupted: a kill lands at a random moment of that span (and a
  // little past it), so the kills keep landing mid-run however fast the commands get.
  for (const [kind, args] of Object.entries(KINDS)) {
    const started = Date.now();
    const r = await sb.profiles(args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `calibrating ${kind}: ${r.stderr}`);
    figures.windowsMs[kind] = Math.round((Date.now() - started) * 1.1);
  }
});
after(async () => {
  console.log(`# reliability figures (SIGKILL): ${JSON.stringify(figures)}`);
  await sb?.stop();
});

function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

// Values with the characters the .env quoting must carry: spaces, quotes, $, #, ;, backslashes, unicode.
function value(): string {
  const alphabet = "abcXYZ019 _-=\"'$#;\\é";
  return Array.from({ length: 1 + Math.floor(rand() * 24) }, () => pick([...alphabet])).join("");
}

function command(): { label: string; args: string[] } {
  if (rand() < 0.5) {
    figures.setRuns++;
    const name = pick(NAMES);
    const pairs = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => `RL_K${i}=${value()}`);
    const restart = rand() < 0.5 ? ["--restart", "--wait", "15"] : [];
    return { label: `set ${name}`, args: ["set", name, ...pairs, ...restart] };
  }
  figures.rollRuns++;
  const parallel = String(1 + Math.floor(rand() * 3));
  return { label: `roll --max-parallel ${parallel}`, args: ["roll", "--max-parallel", parallel, ...ROLL_FLAGS] };
}

async function assertAllHealthy(round: number): Promise<void> {
  const rows = JSON.parse((await sb.profiles(["list", "--json"])).stdout) as { name: string; port: number; activeState: string }[];
  assert.deepEqual(rows.map((r) => r.name), NAMES, `round ${round}`);
  for (const r of rows) {
    assert.equal(r.activeState, "active", `round ${round}: ${r.name}`);
    assert.equal(await healthStatus(r.port), 200, `round ${round}: ${r.name} /health`);
  }
}

test(`${ROUNDS} x set/roll SIGKILLed at a random moment: every .env is a generation, the next roll heals all`, async () => {
  const paths = userPaths(sb);
  for (let round = 1; round <= ROUNDS; round++) {
    const { label, args } = command();
    const child = spawnCli(sb, args);
    // The delay counts from node's own start: a kill of setpriv before its exec would test nothing.
    const isNode = await waitUntilNode(child.pid);
    const delay = Math.floor(rand() * figures.windowsMs[kindOf(args)]!);
    await new Promise((r) => setTimeout(r, delay));
    let killed = false;
    if (isNode) {
      try {
        process.kill(child.pid, "SIGKILL");
        killed = true;
      } catch {
        // Already exited.
      }
    }
    const r = await child.done;
    if (killed && r.code === 137) figures.killedMidRun++;
    else figures.finishedBeforeKill++;
    const where = `round ${round} (${label}, killed after ${delay} ms, exit ${r.code}, seed ${SEED})`;

    for (const c of await checkEnvFiles(paths)) {
      assert.deepEqual(c.problems, [], `${where}: ${c.name}`);
      figures.envChecks++;
    }

    const recordBefore = await fs.readFile(path.join(paths.stateDir, "roll.json"), "utf8").catch(() => null);
    const unfinished = recordBefore !== null && (JSON.parse(recordBefore) as { finished: unknown }).finished === null;
    const heal = await sb.profiles(["roll", "--max-parallel", "4", ...ROLL_FLAGS, "--json"], { timeoutMs: 120_000 });
    assert.equal(heal.code, 0, `${where}: the healing roll exited ${heal.code}\n${heal.stderr}\n${heal.stdout}`);
    if (unfinished) {
      figures.resumedRolls++;
      const summary = JSON.parse(heal.stdout) as { rolls: { resumed: boolean }[] };
      assert.equal(summary.rolls[0]?.resumed, true, `${where}: the killed roll was not resumed first`);
    }
    const record = JSON.parse(await fs.readFile(path.join(paths.stateDir, "roll.json"), "utf8")) as { finished: { outcome: string } | null };
    assert.equal(record.finished?.outcome, "completed", where);
    await assertAllHealthy(round);
    // The roll went through every profile's transaction: a .env left by an interrupted commit is adopted now.
    for (const c of await checkEnvFiles(paths)) assert.notEqual(c.current, null, `${where}: ${c.name}'s .env is in no generation after the healing roll`);
    figures.rounds++;
  }
  // Not a tautology: the point is kills that landed while the command was working.
  assert.ok(figures.killedMidRun >= ROUNDS / 3, `only ${figures.killedMidRun} of ${ROUNDS} kills landed mid-run`);
});

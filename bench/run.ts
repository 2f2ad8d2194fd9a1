#!/usr/bin/env node
/**
 * The benchmark driver (`npm run bench` runs it through scripts/bench.sh, as root, with two user managers
 * started). Measures this tool and what a user would run instead, interleaved, and writes BENCHMARKS.md.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runOk } from "./exec.js";
import type { BenchContext } from "./context.js";
import { describeMachine } from "./machine.js";
import { killPm2 } from "./pm2.js";
import { EMPTY_RANGE, PORT_RANGE } from "./population.js";
import { renderReport, writeReport } from "./report.js";
import { Registry } from "./series.js";
import { detectVerb, Tools } from "./tools.js";
import { sandboxUser } from "../test/helpers/sandbox.js";
import { markUnmeasured } from "./targets.js";
import { choosePhases, PHASES } from "./phases/index.js";

const USAGE = "usage: node dist/bench/run.js --app DIR --main STATE --empty STATE --out FILE [--commit SHA] [--runs N] [--phases NAME,...]";

function options() {
  const { values } = parseArgs({
    options: {
      app: { type: "string" },
      main: { type: "string" },
      empty: { type: "string" },
      out: { type: "string" },
      commit: { type: "string", default: "unknown" },
      runs: { type: "string", default: "10" },
      phases: { type: "string" },
    },
    strict: true,
  });
  const runs = Number(values.runs);
  if (!values.app || !values.main || !values.empty || !values.out) throw new Error(USAGE);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs "${values.runs}" must be a whole number of rounds (10 or more for a result)`);
  return { app: values.app, main: values.main, empty: values.empty, out: values.out, commit: values.commit, runs, phases: choosePhases(values.phases) };
}

async function main(): Promise<void> {
  const opts = options();
  const startedAt = new Date();
  const log = (line: string): void => void process.stderr.write(`bench [${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s]: ${line}\n`);
  const tools = new Tools(opts.app);
  const mainUser = sandboxUser(readFileSync(opts.main, "utf8"));
  const empty = sandboxUser(readFileSync(opts.empty, "utf8"));

  for (const [user, range] of [[mainUser, PORT_RANGE], [empty, EMPTY_RANGE]] as const) {
    // No journald in the sandbox: gateways' output goes to files.
    await runOk(user, tools.profiles("init", "--range", range, "--log-dir", `${user.home}/logs`));
  }
  const verbs = { roll: await detectVerb(mainUser, tools, "roll"), sweep: await detectVerb(mainUser, tools, "sweep") };
  for (const [verb, v] of Object.entries(verbs)) log(`profiles ${verb}: ${v.exists ? `present (${[...v.options].map((o) => `--${o}`).join(" ")})` : "not implemented yet"}`);

  const ctx: BenchContext = {
    main: mainUser,
    empty,
    tools,
    registry: new Registry(),
    rounds: { warmup: 1, counted: opts.runs },
    quick: { warmup: 1, counted: 2 * opts.runs },
    verbs,
    log,
  };
  try {
    for (const phase of PHASES) {
      if (opts.phases.has(phase.name)) await phase.run(ctx);
    }
  } finally {
    await killPm2(mainUser, tools).catch((err: unknown) => log(`pm2 kill: ${String(err)}`));
  }

  // The rows of phases not run say so, rather than leave the report without them.
  markUnmeasured(ctx.registry, `not measured: its phase was not run (--phases ${[...opts.phases].join(",")})`);
  const report = {
    machine: describeMachine(opts.app),
    registry: ctx.registry,
    rounds: ctx.rounds,
    quick: ctx.quick,
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    commit: opts.commit,
  };
  writeReport(opts.out, report);
  const text = renderReport(report);
  process.stdout.write(`${text.slice(text.indexOf("## Results"), text.indexOf("## Every series"))}wrote ${opts.out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

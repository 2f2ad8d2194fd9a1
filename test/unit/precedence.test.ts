import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import yargs from "yargs";
import add from "../../src/commands/add.js";
import type { CommandSpec } from "../../src/commands/command.js";
import { commands } from "../../src/commands/index.js";
import { globalOptions } from "../../src/commands/options.js";
import { createContext, type Context } from "../../src/core/context.js";
import { AppError, ManagerUnreachableError } from "../../src/errors.js";
import { fakeWorld } from "../helpers/fakes.js";

// Exit codes of each verb, with the user manager unreachable throughout, for:
//   bad      a bad profile name on an uninitialised host: usage (2) comes first
//   uninit   an unknown profile (or none, for verbs without one) on an uninitialised host: 8 before 3
//   unknown  an unknown profile on an initialised host: 3 before the manager's 10
//   known    an existing profile on an initialised host: 10 where the verb needs the manager, else its own outcome
// NAME stands for the profile; null where the case does not apply (the verb takes no name, or add's new name).
type Row = { argv: string[]; bad: number | null; uninit: number; unknown: number | null; known: number };
const TABLE: Record<string, Row> = {
  init: { argv: [], bad: null, uninit: 10, unknown: null, known: 10 },
  add: { argv: ["NAME", "--no-start"], bad: 2, uninit: 8, unknown: null, known: 4 },
  list: { argv: [], bad: null, uninit: 8, unknown: null, known: 10 },
  status: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  health: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  sweep: { argv: [], bad: null, uninit: 8, unknown: null, known: 10 },
  start: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  stop: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  restart: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  enable: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  disable: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  reload: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  limits: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  ps: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  top: { argv: ["--once"], bad: null, uninit: 8, unknown: null, known: 10 },
  env: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 0 },
  set: { argv: ["NAME", "B=2"], bad: 2, uninit: 8, unknown: 3, known: 0 },
  unset: { argv: ["NAME", "A"], bad: 2, uninit: 8, unknown: 3, known: 0 },
  history: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 0 },
  diff: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 0 },
  rollback: { argv: ["NAME", "--no-restart"], bad: 2, uninit: 8, unknown: 3, known: 1 },
  // roll, --dry-run too, asks the manager which profiles `disable` keeps down (left out of its plan).
  roll: { argv: ["NAME", "--dry-run"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  plan: { argv: ["-f", "/nonexistent/profiles.ini"], bad: null, uninit: 8, unknown: null, known: 2 },
  apply: { argv: ["-f", "/nonexistent/profiles.ini", "--yes"], bad: null, uninit: 8, unknown: null, known: 2 },
  export: { argv: [], bad: null, uninit: 8, unknown: null, known: 10 },
  // import's names are the old units' profiles: only the manager can say whether one exists (10 before 3).
  import: { argv: ["--from-unit", "hermes-gateway@%i.service", "NAME"], bad: 2, uninit: 8, unknown: 10, known: 10 },
  remove: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 10 },
  logs: { argv: ["NAME"], bad: 2, uninit: 8, unknown: 3, known: 1 },
  doctor: { argv: [], bad: null, uninit: 14, unknown: null, known: 14 },
  verify: { argv: [], bad: null, uninit: 8, unknown: null, known: 10 },
};

function verbOf(spec: CommandSpec): string {
  return [spec.command].flat()[0]!.split(" ")[0]!;
}

/** The arguments yargs gives the verb for `argv`, as the CLI would parse them. */
async function parse(spec: CommandSpec, argv: string[]): Promise<Record<string, unknown>> {
  let got: Record<string, unknown> | undefined;
  await yargs([verbOf(spec), ...argv])
    .options(globalOptions)
    .command(spec.command, spec.describe, spec.builder, (a) => void (got = a))
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  return got!;
}

/** The exit code the CLI would give for one run of `spec`, in a fresh context whose manager is unreachable. */
async function exitCode(spec: CommandSpec, argv: string[], base: Context): Promise<number> {
  const down = async (): Promise<never> => {
    throw new ManagerUnreachableError("unix:path=/nowhere", "no such file");
  };
  const ctx = createContext({ env: base.env, json: true, systemd: down, ports: base.ports, owners: base.owners, procs: base.procs, prober: base.prober, progress: () => {} });
  try {
    const r = await spec.run((await parse(spec, argv)) as never, ctx);
    return r.exitCode ?? 0;
  } catch (err) {
    if (err instanceof AppError) return err.exitCode;
    throw err;
  }
}

test("every verb checks in one order: usage 2, not initialised 8, no such profile 3, then the manager 10", async () => {
  const ready = await fakeWorld({ logDir: "/nonexistent-log-dir" });
  const bare = await fakeWorld();
  try {
    for (const w of [ready, bare]) await add.run({ json: true, verbose: false, name: "liam", start: false, wait: 5, env: ["A=1"] } as never, w.ctx);
    await fs.rm(bare.ctx.paths.configFile);
    assert.deepEqual(commands.map(verbOf).sort(), Object.keys(TABLE).sort(), "every verb has a row");
    for (const spec of commands) {
      const row = TABLE[verbOf(spec)]!;
      const args = (name: string) => row.argv.map((a) => (a === "NAME" ? name : a));
      const seen: Partial<Row> = { argv: row.argv, bad: null, unknown: null };
      if (row.bad !== null) seen.bad = await exitCode(spec, args("Bad!"), bare.ctx);
      seen.uninit = await exitCode(spec, args("nosuch"), bare.ctx);
      if (row.unknown !== null) seen.unknown = await exitCode(spec, args("nosuch"), ready.ctx);
      seen.known = await exitCode(spec, args("liam"), ready.ctx);
      assert.deepEqual(seen, row, verbOf(spec));
    }
  } finally {
    await ready.cleanup();
    await bare.cleanup();
  }
});

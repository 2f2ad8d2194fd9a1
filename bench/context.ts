/** What every phase of the bench is handed. */
import type { Rounds, Registry } from "./series.js";
import type { Tools, Verb } from "./tools.js";
import type { SandboxUser } from "../test/helpers/sandbox.js";

/** The sandboxes, the tools, where results go and how many rounds to run. */
export interface BenchContext {
  /** The user manager that holds the profiles (and, as the same user, pm2). */
  main: SandboxUser;
  /** A second user manager with no profiles: where the "1st add" happens. */
  empty: SandboxUser;
  tools: Tools;
  registry: Registry;
  /** Rounds of the slow rows (roll, add, sweep). */
  rounds: Rounds;
  /** Rounds of the rows that take milliseconds (list, start-up). */
  quick: Rounds;
  /** Verbs other work may not have landed yet. */
  verbs: { roll: Verb; sweep: Verb };
  log(line: string): void;
}

/** The text a row shows for a verb that this build does not have. */
export function notImplemented(verb: string): string {
  return `not measured: \`profiles ${verb}\` not implemented yet`;
}

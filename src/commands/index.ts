import add from "./add.js";
import apply from "./apply.js";
import type { CommandSpec } from "./command.js";
import diff from "./diff.js";
import doctor from "./doctor.js";
import { disable, enable } from "./enable.js";
import env from "./env.js";
import exportVerb from "./export.js";
import health from "./health.js";
import history from "./history.js";
import init from "./init.js";
import limits from "./limits.js";
import list from "./list.js";
import logs from "./logs.js";
import plan from "./plan.js";
import ps from "./ps.js";
import reload from "./reload.js";
import remove from "./remove.js";
import rollback from "./rollback.js";
import roll from "./roll.js";
import set from "./set.js";
import { restart, start, stop } from "./start.js";
import status from "./status.js";
import sweep from "./sweep.js";
import unset from "./unset.js";
import verify from "./verify.js";

/** Every verb of the CLI, in the order `--help` lists them. */
export const commands: CommandSpec[] = [init, add, list, status, health, sweep, start, stop, restart, enable, disable, reload, limits, ps, env, set, unset, history, diff, rollback, roll, plan, apply, exportVerb, remove, logs, doctor, verify];

import add from "./add.js";
import type { CommandSpec } from "./command.js";
import health from "./health.js";
import init from "./init.js";
import list from "./list.js";
import remove from "./remove.js";
import { restart, start, stop } from "./start.js";
import status from "./status.js";
import sweep from "./sweep.js";

/** Every verb of the CLI, in the order `--help` lists them. */
export const commands: CommandSpec[] = [init, add, list, status, health, sweep, start, stop, restart, remove];

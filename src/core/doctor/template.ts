/** Checks: the template unit is installed with a runnable ExecStart, and the manager has loaded it. */
import fs from "node:fs/promises";
import path from "node:path";
import { AppError } from "../../errors.js";
import { TEMPLATE_UNIT } from "../../systemd/types.js";
import { getUnitKey } from "../../systemd/unit-file.js";
import { splitWords } from "../exec-command.js";
import { fine, type Check, type Problem } from "./types.js";

/** An instance that is never started: loading it asks the manager whether it knows the template. */
export const PROBE_INSTANCE = "agent-gateway@doctor-probe.service";

const REINSTALL = "profiles init";

/** The program an ExecStart= line runs, or why it cannot be told. */
export function execProgram(value: string): { program: string } | { problem: string } {
  // Prefixes systemd strips before the path: @ (argv0), - (ignore failure), : + ! !! (privileges, expansion).
  const line = value.replace(/^[@\-:+!]+/, "");
  let words: string[];
  try {
    words = splitWords(line);
  } catch (err) {
    if (err instanceof AppError) return { problem: `ExecStart=${value} has an unclosed quote` };
    throw err;
  }
  const first = words[0];
  if (first === undefined) return { problem: "ExecStart= is empty" };
  // Undo the escapes quoteExecArg adds: %% is a literal %, $$ a literal $.
  return { program: first.replace(/%%/g, "%").replace(/\$\$/g, "$") };
}

async function programProblem(program: string): Promise<string | null> {
  if (!path.isAbsolute(program)) return `its program "${program}" is not an absolute path (the manager does not search PATH)`;
  try {
    await fs.access(program, fs.constants.X_OK);
    if (!(await fs.stat(program)).isFile()) return `its program ${program} is not a file`;
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `its program ${program} does not exist` : `its program ${program} is not executable (${code})`;
  }
}

export const templateCheck: Check = {
  id: "template",
  title: "template installed, ExecStart absolute and executable",
  needs: [],
  async run(f) {
    const file = path.join(f.ctx.paths.unitDir, TEMPLATE_UNIT);
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const message = code === "ENOENT" ? `${file} is not installed` : `${file} cannot be read (${code})`;
      return { ok: "", problems: [{ message, fix: REINSTALL }] };
    }
    // An empty ExecStart= resets the list, so the last assignment is the one that runs.
    const value = getUnitKey(text, "Service", "ExecStart").filter((v) => v !== "").at(-1);
    const problem = (message: string): { ok: string; problems: Problem[] } => ({ ok: "", problems: [{ message: `${file}: ${message}`, fix: REINSTALL }] });
    if (value === undefined) return problem("no ExecStart= in [Service]");
    const parsed = execProgram(value);
    if ("problem" in parsed) return problem(parsed.problem);
    const bad = await programProblem(parsed.program);
    if (bad) return problem(`ExecStart: ${bad}`);
    return fine(`${file} runs ${parsed.program}`);
  },
};

export const templateLoadedCheck: Check<"bus"> = {
  id: "template-loaded",
  title: "template loaded by the manager",
  needs: ["bus"],
  async run(f, { bus: sd }) {
    const state = await sd.state(PROBE_INSTANCE);
    if (state.loadState === "loaded") return fine(`the manager loads ${TEMPLATE_UNIT}`);
    return {
      ok: "",
      problems: [{ message: `the manager cannot load ${TEMPLATE_UNIT} (load state of ${PROBE_INSTANCE}: ${state.loadState})`, fix: REINSTALL }],
    };
  },
};

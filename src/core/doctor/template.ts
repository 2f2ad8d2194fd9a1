/** Checks: the template unit is installed with a runnable ExecStart, and the manager has loaded it. */
import fs from "node:fs/promises";
import path from "node:path";
import { AppError } from "../../errors.js";
import { TEMPLATE_UNIT } from "../../systemd/types.js";
import { getUnitKey } from "../../systemd/unit-file.js";
import { splitWords } from "../exec-command.js";
import { templateText } from "../init-host.js";
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

/**
 * A unit file's settings as `[Section] Key=value`, in order. Comments and blank lines are left out, and so
 * is ExecStart=: templateCheck judges it, and init wrote it from the PATH of its own run.
 */
function settingLines(text: string): string[] {
  let section = "";
  return text.split("\n").flatMap((raw) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return [];
    if (line.startsWith("[")) {
      section = line;
      return [];
    }
    return /^ExecStart\s*=/.test(line) ? [] : [`${section} ${line}`];
  });
}

/** At most three of `lines`, quoted, and how many more. */
function some(lines: string[]): string {
  const shown = lines.slice(0, 3).map((l) => `\`${l}\``).join(", ");
  return lines.length > 3 ? `${shown} and ${lines.length - 3} more` : shown;
}

/**
 * The installed template against what `init` writes now: an upgrade brings a template that init has not
 * yet installed (this version's `SyslogIdentifier=%N`, without which `logs` misses the lines of a gateway
 * that died at once), and a hand edit of the file is lost at the next init.
 */
export const templateCurrentCheck: Check<"config"> = {
  id: "template-current",
  title: "template as `profiles init` writes it",
  needs: ["config"],
  async run(f, { config }) {
    const file = path.join(f.ctx.paths.unitDir, TEMPLATE_UNIT);
    const installed = await fs.readFile(file, "utf8").catch(() => null);
    // templateCheck says what is wrong with a template that cannot be read.
    if (installed === null) return fine(`nothing to compare: ${file} cannot be read (see above)`);
    const have = settingLines(installed);
    // ExecStart= is not compared: init resolved the gateway program on its own PATH, doctor may have another.
    const want = settingLines(await templateText(config, ""));
    const missing = want.filter((l) => !have.includes(l));
    const extra = have.filter((l) => !want.includes(l));
    if (missing.length === 0 && extra.length === 0) return fine(`${file} holds what this version's init writes`);
    const parts = [...(missing.length > 0 ? [`lacks ${some(missing)}`] : []), ...(extra.length > 0 ? [`has ${some(extra)}, which init does not write`] : [])];
    return {
      ok: "",
      problems: [{
        message: `${file} is not what \`profiles init\` writes: it ${parts.join(", and ")} (an older version's template, or edited by hand; a hand edit belongs in a drop-in, agent-gateway@.service.d/NAME.conf)`,
        fix: REINSTALL,
      }],
    };
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

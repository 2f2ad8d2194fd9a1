/** Pieces of the template unit that depend on how the user's gateway behaves (`profiles init` options). */
import { keyProblem } from "../store/envfile.js";
import { resolveProgram } from "./exec-command.js";

// systemd expands ${NAME} in ExecStart= from the unit's environment (the profile's .env); it knows no
// ${NAME:-default} or other shell forms, and passes those on as literal text.
const BRACED = /\$\{([^}]*)\}/g;

/** Why a gateway command's `${VAR}` references would not expand under systemd, or null when they all would. */
export function execVarProblem(cmd: string): string | null {
  for (const m of cmd.matchAll(BRACED)) {
    const name = m[1] ?? "";
    const problem = keyProblem(name);
    if (problem) return `\${${name}} ${problem}; systemd expands only plain \${NAME} from the profile's .env (no defaults or other shell forms)`;
  }
  if (/\$\{[^}]*$/.test(cmd)) return "has a ${ without its closing }";
  return null;
}

/** The names a gateway command takes from the profile's `.env` as `${VAR}`. */
export function execVars(cmd: string): string[] {
  return [...new Set([...cmd.matchAll(BRACED)].map((m) => m[1] ?? ""))];
}

/** ExecReload= that sends `signal` to the main process, with kill's absolute path (the manager has no shell PATH). */
export function reloadCommand(signal: string): string {
  const kill = resolveProgram("kill", "/usr/bin:/bin") ?? "/bin/kill";
  return `${kill} -s ${signal} $MAINPID`;
}

/** The shapes `profiles doctor` works with: a check, what it found, and what it was given. */
import type { Config } from "../../config.js";
import type { ProcessInspector } from "../../processes/inspector.js";
import type { SystemdManager } from "../../systemd/types.js";
import type { Context } from "../context.js";

/** One thing that is wrong, and the command that puts it right. */
export interface Problem {
  message: string;
  fix: string;
}

/** What one check found: `ok` is the line shown when `problems` is empty. */
export interface Verdict {
  ok: string;
  problems: Problem[];
}

export type CheckStatus = "ok" | "problem" | "skipped";

/** One check as `doctor` reports it. */
export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** The ok line, the problems joined, or why the check was skipped. */
  message: string;
  problems: Problem[];
}

/** What a check may need that an earlier check provides. */
export type Need = "bus" | "config";

/** Everything checks are given; `sd` and `config` are set only when their own checks passed. */
export interface Facts {
  ctx: Context;
  /** The user the manager and the files belong to (this process's user). */
  user: string;
  uid: number;
  /** Where logind keeps one file per lingering user. */
  lingerDir: string;
  /** Which unit's cgroup a process is in: a gateway started by a wrapper listens from a child of MainPID. */
  procs: ProcessInspector;
  profiles: string[];
  /** Why the profiles directory could not be listed, or null. */
  profilesError: string | null;
  sd: SystemdManager | null;
  config: Config | null;
}

/** What each need gives a check: the manager for `bus`, the loaded config.ini for `config`. */
export interface NeedValues {
  bus: SystemdManager;
  config: Config;
}

/**
 * One check of `doctor`: it runs only when what it `needs` is there, is handed those values (so a need is
 * declared once, and typed), and reports every problem it finds.
 */
export interface Check<N extends Need = Need> {
  id: string;
  title: string;
  needs: readonly N[];
  run(facts: Facts, given: Pick<NeedValues, N>): Promise<Verdict>;
}

/** A verdict with no problems. */
export function fine(ok: string): Verdict {
  return { ok, problems: [] };
}

/** The verdict of `problems`, with `ok` the line shown when there are none. */
export function verdict(problems: Problem[], ok: string): Verdict {
  return problems.length > 0 ? { ok: "", problems } : fine(ok);
}

/** Every profile's problems in turn: the loop of the checks that judge each profile on its own. */
export async function eachProfile(f: Facts, problemsOf: (name: string) => Promise<Problem[]> | Problem[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const name of f.profiles) problems.push(...(await problemsOf(name)));
  return problems;
}

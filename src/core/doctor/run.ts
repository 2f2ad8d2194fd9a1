/** `profiles doctor`: run every check in order, skipping those whose needs (bus, config) are missing. */
import os from "node:os";
import { AppError } from "../../errors.js";
import { LINGER_DIR } from "../../paths.js";
import { ProcProcessInspector, type ProcessInspector } from "../../processes/inspector.js";
import { listProfiles } from "../../store/profiles.js";
import type { Context } from "../context.js";
import { BUS_TITLE, checkBus } from "./bus.js";
import { CONFIG_TITLE, checkConfig } from "./config.js";
import { envFilesCheck } from "./env-files.js";
import { filesCheck } from "./files.js";
import { generationsCheck } from "./generations.js";
import { limitsCheck } from "./limits.js";
import { lingerCheck } from "./linger.js";
import { heldPortsCheck, sharedPortsCheck } from "./ports.js";
import { sweepTimerCheck } from "./sweep-timer.js";
import { templateCheck, templateCurrentCheck, templateLoadedCheck } from "./template.js";
import { strayUnitsCheck } from "./stray-units.js";
import type { Check, CheckResult, Facts, Need, NeedValues, Verdict } from "./types.js";
import { uniqueValuesCheck } from "./unique.js";
import { unitsCheck } from "./units.js";

/** What `doctor` found: every check in order, and the fixes of all problems, each once. */
export interface DoctorReport {
  ok: boolean;
  problems: number;
  checks: CheckResult[];
  fixes: string[];
}

/** Who is checked and where linger files live; tests set them, the CLI takes this process's user. */
export interface DoctorOptions {
  user?: string;
  uid?: number;
  lingerDir?: string;
  procs?: ProcessInspector;
}

const SKIPPED_BECAUSE: Record<Need, string> = {
  bus: "the user bus is unreachable",
  config: "config.ini cannot be used",
};

function result(id: string, title: string, v: Verdict): CheckResult {
  if (v.problems.length === 0) return { id, title, status: "ok", message: v.ok, problems: [] };
  return { id, title, status: "problem", message: v.problems.map((p) => p.message).join("; "), problems: v.problems };
}

async function run(check: Check, facts: Facts): Promise<CheckResult> {
  const values: Partial<NeedValues> = { ...(facts.sd && { bus: facts.sd }), ...(facts.config && { config: facts.config }) };
  const missing = check.needs.filter((n) => values[n] === undefined);
  if (missing.length > 0) {
    return { id: check.id, title: check.title, status: "skipped", message: `skipped because ${missing.map((n) => SKIPPED_BECAUSE[n]).join(" and ")}`, problems: [] };
  }
  try {
    return result(check.id, check.title, await check.run(facts, values as NeedValues));
  } catch (err) {
    // A check that cannot finish (the bus dropped, a file vanished) is one problem, not the end of the report.
    if (!(err instanceof AppError)) throw err;
    return result(check.id, check.title, { ok: "", problems: [{ message: err.message, fix: err.hint ?? "profiles doctor --verbose" }] });
  }
}

/** Run every check against the real (or a test's) context. */
export async function runDoctor(ctx: Context, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const uid = opts.uid ?? process.getuid?.() ?? os.userInfo().uid;
  const user = opts.user ?? (ctx.env.USER || os.userInfo().username);
  const bus = await checkBus(ctx, uid);
  const config = await checkConfig(ctx);
  let profiles: string[] = [];
  let profilesError: string | null = null;
  try {
    profiles = await listProfiles(ctx.paths);
  } catch (err) {
    profilesError = `${ctx.paths.profilesDir} cannot be listed (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const facts: Facts = { ctx, user, uid, lingerDir: opts.lingerDir ?? LINGER_DIR, procs: opts.procs ?? new ProcProcessInspector(), profiles, profilesError, sd: bus.sd, config: config.config };
  const checks: CheckResult[] = [
    result("bus", BUS_TITLE, bus.verdict),
    await run(lingerCheck, facts),
    result("config", CONFIG_TITLE, config.verdict),
  ];
  for (const check of [templateCheck, templateCurrentCheck, templateLoadedCheck, filesCheck, envFilesCheck, generationsCheck, sharedPortsCheck, heldPortsCheck, uniqueValuesCheck, unitsCheck, strayUnitsCheck, limitsCheck, sweepTimerCheck]) {
    checks.push(await run(check, facts));
  }
  const all = checks.flatMap((c) => c.problems);
  return { ok: all.length === 0, problems: all.length, checks, fixes: [...new Set(all.map((p) => p.fix))] };
}

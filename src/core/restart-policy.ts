/**
 * The crash-loop policy: how often and how fast the manager restarts a gateway that exits, as `init`
 * (for all, in the template) and `limits` (per profile, in its drop-in) set it. One table of flags for
 * both, with the unit section each key lives in and the systemd release that first knows it.
 */
import type { Argv } from "yargs";
import { UsageError } from "../errors.js";
import { MAX_SECONDS } from "./cli-args.js";
import { object, optional, refine, string } from "../schema.js";
import { checkRestartSec } from "../store/limits.js";
import type { SystemdManager } from "../systemd/types.js";

/** The policy as systemd values (`3`, `60s`, `1 2`); an absent key is the template's (or systemd's) default. */
export interface RestartPolicy {
  StartLimitBurst?: string;
  StartLimitIntervalSec?: string;
  RestartSec?: string;
  RestartPreventExitStatus?: string;
  RestartSteps?: string;
  RestartMaxDelaySec?: string;
}
export type PolicyKey = keyof RestartPolicy;

/** One flag of the policy. */
export interface PolicyFlag {
  flag: string;
  /** The key yargs puts its value under. */
  arg: string;
  key: PolicyKey;
  section: "Unit" | "Service";
  /** The first systemd release whose manager knows the key; older ones refuse it. */
  since: number;
  describe: string;
  check(v: string): string;
}

function wholeNumber(flag: string, min: number, max: number): (v: string) => string {
  return (v) => {
    const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!(n >= min && n <= max)) throw new UsageError(`${flag} "${v}" must be a whole number ${min}-${max}`);
    return String(n);
  };
}

function seconds(flag: string, max: number): (v: string) => string {
  return (v) => {
    const n = /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!(n >= 0 && n <= max)) throw new UsageError(`${flag} "${v}" must be a number of seconds, 0-${max}`);
    return `${n}s`;
  };
}

/** `--no-restart-on-exit 1,2` (or `"1 2"`): exit statuses 0-255 after which the gateway is not restarted. */
function exitCodes(v: string): string {
  const words = v.split(/[\s,]+/).filter(Boolean);
  const codes = words.map((w) => (/^\d{1,3}$/.test(w) ? Number(w) : NaN));
  if (codes.length === 0 || codes.some((c) => !(c >= 0 && c <= 255))) {
    throw new UsageError(`--no-restart-on-exit "${v}" must be exit statuses 0-255, separated by commas (e.g. 1,78)`);
  }
  return [...new Set(codes)].join(" ");
}

/** Every policy flag, in the order the drop-in and `--help` list them. */
export const POLICY_FLAGS: readonly PolicyFlag[] = [
  { flag: "--start-limit-burst", arg: "startLimitBurst", key: "StartLimitBurst", section: "Unit", since: 229, describe: "StartLimitBurst: starts allowed within the interval before the unit stays failed (template: 5)", check: wholeNumber("--start-limit-burst", 1, 1000) },
  { flag: "--start-limit-interval", arg: "startLimitInterval", key: "StartLimitIntervalSec", section: "Unit", since: 229, describe: "StartLimitIntervalSec: the interval in seconds (template: 60)", check: seconds("--start-limit-interval", MAX_SECONDS) },
  { flag: "--restart-sec", arg: "restartSec", key: "RestartSec", section: "Service", since: 1, describe: "RestartSec: seconds before a crashed gateway is restarted (template: 2)", check: checkRestartSec },
  { flag: "--no-restart-on-exit", arg: "noRestartOnExit", key: "RestartPreventExitStatus", section: "Service", since: 1, describe: "RestartPreventExitStatus: exit statuses that mean \"do not restart\", e.g. 1,78 (replaces the template's 78)", check: exitCodes },
  { flag: "--restart-steps", arg: "restartSteps", key: "RestartSteps", section: "Service", since: 254, describe: "RestartSteps: steps from RestartSec up to --restart-max-delay (exponential back-off; systemd >= 254)", check: wholeNumber("--restart-steps", 1, 3600) },
  { flag: "--restart-max-delay", arg: "restartMaxDelay", key: "RestartMaxDelaySec", section: "Service", since: 254, describe: "RestartMaxDelaySec: the longest back-off in seconds (systemd >= 254)", check: seconds("--restart-max-delay", MAX_SECONDS) },
];

/** config.ini's `[restart]` section: each key as its flag writes it (a hand edit is checked by the flag's rule). */
export const policySectionSchema = object(
  Object.fromEntries(
    POLICY_FLAGS.map((f) => [
      f.key,
      optional(string().check(refine((v: string) => accepts(f, v.replace(/s$/, "")), { message: `must be a value ${f.flag} accepts` }))),
    ]),
  ),
);

function accepts(f: PolicyFlag, v: string): boolean {
  try {
    f.check(v);
    return true;
  } catch {
    return false;
  }
}

/** The policy keys, in the drop-in's order. */
export const POLICY_KEYS: readonly PolicyKey[] = POLICY_FLAGS.map((f) => f.key);

/** The policy the flags give, checked (exit 2): a value, or null where `""` removes it. */
export function policyFromFlags(args: Record<string, unknown>): [PolicyKey, string | null][] {
  return POLICY_FLAGS.filter((f) => args[f.arg] !== undefined).map((f) => {
    const raw = String(args[f.arg]);
    return [f.key, raw === "" ? null : f.check(raw)];
  });
}

/** Declare the policy flags on a yargs builder (`init` and `limits`). */
export function declarePolicyFlags(y: Argv<any>, removable: boolean): Argv<any> {
  return POLICY_FLAGS.reduce((acc, f) => acc.option(f.flag.slice(2), { type: "string", describe: removable ? `${f.describe} ("" removes it)` : f.describe }), y);
}

/** The systemd release a Version property names (`252.39-1~deb12u1` → 252), or null when it names none. */
export function releaseOf(version: string): number | null {
  const m = /^v?(\d+)/.exec(version.trim());
  return m ? Number(m[1]) : null;
}

/** What this manager's release supports of the policy flags. */
export interface PolicySupport {
  version: string;
  release: number | null;
  supported: string[];
  /** Flags it does not know, with the release they need. */
  unsupported: { flag: string; needs: number }[];
}

/** Which policy flags the manager knows (an unknown release is taken to know them all). */
export async function policySupport(sd: SystemdManager): Promise<PolicySupport> {
  const version = await sd.version();
  const release = releaseOf(version);
  const known = (f: PolicyFlag) => release === null || release >= f.since;
  return {
    version,
    release,
    supported: POLICY_FLAGS.filter(known).map((f) => f.flag),
    unsupported: POLICY_FLAGS.filter((f) => !known(f)).map((f) => ({ flag: f.flag, needs: f.since })),
  };
}

/** UsageError (exit 2, before anything is written) when the manager is too old for a key being set. */
export async function assertPolicySupported(sd: SystemdManager, keys: readonly PolicyKey[]): Promise<void> {
  if (keys.length === 0) return;
  const support = await policySupport(sd);
  const refused = POLICY_FLAGS.filter((f) => keys.includes(f.key) && support.unsupported.some((u) => u.flag === f.flag));
  if (refused.length === 0) return;
  const needs = Math.max(...refused.map((f) => f.since));
  throw new UsageError(
    `${refused.map((f) => f.flag).join(" and ")} need${refused.length === 1 ? "s" : ""} systemd ${needs} or newer; this user manager is systemd ${support.release ?? "?"} (Version ${support.version}): nothing was written`,
    "leave them out; --restart-sec (and --start-limit-burst, --start-limit-interval) set a fixed back-off on this systemd",
  );
}

/** One line for people: `support of systemd 252: ... ; not ...`. */
export function supportText(s: PolicySupport): string {
  const not = s.unsupported.map((u) => `${u.flag} (needs ${u.needs})`).join(", ");
  return `systemd ${s.release ?? "?"} (${s.version}): crash-loop flags ${s.supported.join(", ")}${not ? `; not ${not}` : ""}`;
}

/** The policy the manager applies to a unit, as it reports it. */
export interface PolicyInForce {
  StartLimitBurst: number;
  /** µs. */
  StartLimitIntervalUSec: number | "infinity";
  /** Exit statuses that prevent a restart. */
  RestartPreventExitStatus: number[];
}

/** Read the policy properties systemd 229+ has (the back-off ones exist only on 254+). */
export async function policyInForce(sd: SystemdManager, unit: string): Promise<PolicyInForce> {
  const p = await sd.properties(unit, ["StartLimitBurst", "StartLimitIntervalUSec", "RestartPreventExitStatus"]);
  const prevent = Array.isArray(p.RestartPreventExitStatus) ? (p.RestartPreventExitStatus[0] as unknown[] | undefined) ?? [] : [];
  return {
    StartLimitBurst: Number(p.StartLimitBurst),
    StartLimitIntervalUSec: p.StartLimitIntervalUSec === "infinity" ? "infinity" : Number(p.StartLimitIntervalUSec),
    RestartPreventExitStatus: prevent.map(Number),
  };
}

/** `at most 5 starts in 60s, no restart after exit 78`. */
export function policyText(p: PolicyInForce): string {
  const interval = p.StartLimitIntervalUSec === "infinity" ? "any time" : `${p.StartLimitIntervalUSec / 1_000_000}s`;
  const prevent = p.RestartPreventExitStatus.length > 0 ? `no restart after exit ${p.RestartPreventExitStatus.join(", ")}` : "restart after any failing exit";
  return `at most ${p.StartLimitBurst} starts in ${interval}, ${prevent}`;
}

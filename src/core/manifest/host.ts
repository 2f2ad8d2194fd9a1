/**
 * A manifest's host settings: in `[defaults]`, anything `profiles init` sets, by its flag's name
 * (`exec`, `port-var`, `range`, `start-limit-burst`, ...). Each is checked by the setting's own rule, set
 * by `apply` as `init` sets it, and left as it is when the manifest does not name it. Not here: the
 * settings a profile section holds too (`probe`, `health-path`, `probe-timeout`, `restart-sec` stay
 * per-profile defaults), and `sweep-webhook`, a URL that may carry a token (a manifest holds no secret).
 */
import { DEFAULT_CONFIG, type Config } from "../../config.js";
import { UsageError } from "../../errors.js";
import { settingProblem, SETTINGS, type Setting } from "../../settings.js";
import { POLICY_FLAGS, type PolicyFlag, type PolicyKey } from "../restart-policy.js";
import type { ManifestEntry } from "./lines.js";

/** A host setting as the manifest names it: a config.ini setting, or a key of the crash-loop policy. */
type HostRule = { setting: Setting } | { policy: PolicyFlag };

const PROFILE_SETTINGS = new Set(["probe", "health-path", "probe-timeout", "restart-sec"]);
/** Refused in a manifest, with the way to set it instead. */
export const NOT_IN_MANIFEST: Record<string, string> = {
  "sweep-webhook": "the URL may carry a token, and a manifest holds no secret: set it with `profiles init --sweep-webhook URL`",
};

/** Every host setting by its manifest key, in `init --help`'s order. */
export const HOST_SETTINGS: ReadonlyMap<string, HostRule> = new Map<string, HostRule>([
  ...SETTINGS.filter((s) => s.flag && !PROFILE_SETTINGS.has(s.flag.name) && !Object.hasOwn(NOT_IN_MANIFEST, s.flag.name)).map((s): [string, HostRule] => [s.flag!.name, { setting: s }]),
  ...POLICY_FLAGS.filter((f) => !PROFILE_SETTINGS.has(f.flag.slice(2))).map((f): [string, HostRule] => [f.flag.slice(2), { policy: f }]),
]);

/** One host setting the manifest gives, checked: the value config.ini (or its `[restart]`) is to hold. */
export interface HostValue {
  key: string;
  line: number;
  /** What Config holds for a setting; for a policy key its value, or null for "" (the template's). */
  value: unknown;
}

/** A host setting that changes: how config.ini holds it before and after (null: not set). */
export interface HostChange {
  key: string;
  before: string | null;
  after: string | null;
}

/** The entry's value as its setting holds it; `fail` names the line of a bad one (exit 2). */
export function hostValue(e: ManifestEntry, rule: HostRule, fail: (problem: string) => never): HostValue {
  if ("policy" in rule) {
    try {
      return { key: e.key, line: e.line, value: e.value === "" ? null : rule.policy.check(e.value) };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return fail(err.message.replace(/^--/, ""));
    }
  }
  const s = rule.setting;
  // A boolean reads as `yes`/`no`, as `enabled` does.
  const raw = s.flag?.boolean && (e.value === "yes" || e.value === "no") ? String(e.value === "yes") : e.value;
  const parsed = s.schema.safeParse(raw);
  if (!parsed.success) return fail(settingProblem(e.key, s, e.value, s.flag?.boolean ? "must be yes or no" : parsed.error.issues[0]?.message));
  return { key: e.key, line: e.line, value: parsed.data };
}

/** The setting's value as text, as config.ini (or `init --json`) shows it; null when unset. */
function shown(rule: HostRule, config: Config): string | null {
  if ("policy" in rule) {
    const v = config.restartPolicy[rule.policy.key];
    if (v === undefined) return null;
    // As the flag writes it: a hand edit's `60` is the flag's `60s`, not a change.
    try {
      return rule.policy.check(v.replace(/s$/, ""));
    } catch {
      return v;
    }
  }
  const v = config[rule.setting.key];
  const text = rule.setting.toFile ? rule.setting.toFile(v as never) : v;
  if (typeof text === "boolean") return text ? "yes" : "no";
  return String(text);
}

/** `config` with the manifest's host settings applied, the changes they make, and what `initHost` takes. */
export function withHostSettings(config: Config, values: readonly HostValue[]): {
  config: Config;
  changes: HostChange[];
  settings: Partial<Config>;
  policy: [PolicyKey, string | null][];
} {
  const settings: Record<string, unknown> = {};
  const policy: [PolicyKey, string | null][] = [];
  const restartPolicy = { ...config.restartPolicy };
  for (const v of values) {
    const rule = HOST_SETTINGS.get(v.key)!;
    if ("policy" in rule) {
      policy.push([rule.policy.key, v.value as string | null]);
      if (v.value === null) delete restartPolicy[rule.policy.key];
      else restartPolicy[rule.policy.key] = v.value as string;
    } else settings[rule.setting.key] = v.value;
  }
  const after: Config = { ...config, ...(settings as Partial<Config>), restartPolicy };
  const changes = values
    .map((v) => ({ key: v.key, before: shown(HOST_SETTINGS.get(v.key)!, config), after: shown(HOST_SETTINGS.get(v.key)!, after) }))
    .filter((c) => c.before !== c.after);
  return { config: after, changes, settings: settings as Partial<Config>, policy: changes.length > 0 ? policy : [] };
}

/** The host settings of `config` that differ from a fresh `init`'s, as manifest lines (`export`). */
export function hostSettingLines(config: Config, quote: (v: string) => string): string[] {
  const lines: string[] = [];
  for (const [key, rule] of HOST_SETTINGS) {
    const now = shown(rule, config);
    if (now !== null && now !== shown(rule, DEFAULT_CONFIG)) lines.push(`${key} = ${quote("policy" in rule ? now.replace(/s$/, "") : now)}`);
  }
  return lines;
}

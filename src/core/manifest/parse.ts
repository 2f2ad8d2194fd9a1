/**
 * A manifest (`profiles.ini`): every profile as code. `[defaults]` holds what every profile gets unless its
 * own section says otherwise, and the host settings `init` sets (host.ts); each `[profile NAME]` one profile: `port`, environment keys, `env-file = PATH`
 * (keys merged from a file in EnvironmentFile= syntax, so that secrets stay out of the manifest), `keep`
 * (keys whose value on this host stays as it is), limits, probe settings and `enabled`. A key of lowercase
 * letters, digits and `-` is a setting, anything else an environment variable (`env.name` for one in
 * lowercase). Every problem is a ManifestError (exit 2) naming the file and the line.
 */
import { readInput, readProblem } from "../../store/read-input.js";
import path from "node:path";
import { UsageError } from "../../errors.js";
import { PROBE_KINDS } from "../../probe/types.js";
import { coerce, enum as enumOf, int, maximum, minimum, minLength, refine, regex, string, type ZodMiniType } from "../../schema.js";
import { noteEntries } from "../../secrets.js";
import { decodeBytes } from "../../store/bytes.js";
import { readEnvSource } from "../../store/env-source.js";
import { keyProblem, valueProblem, type EnvEntries } from "../../store/envfile.js";
import { checkCpuQuota, checkMemoryMax, checkRestartSec, checkTasksMax, type Limits } from "../../store/limits.js";
import { isProfileName, NAME_RULE } from "../../store/names.js";
import type { ProfileSettings } from "../../store/profile-settings.js";
import { parsePort } from "../port-allocation.js";
import { HOST_SETTINGS, hostValue, NOT_IN_MANIFEST, type HostValue } from "./host.js";
import { scanSections, type ManifestEntry, type ManifestSection } from "./lines.js";

/** One profile as the manifest declares it, [defaults] merged in. */
export interface DeclaredProfile {
  name: string;
  /** The line of its `[profile NAME]`. */
  line: number;
  /** null: keep the current port, or (a new profile) take one from the range. */
  port: number | null;
  /** Environment keys in the order first mentioned: [defaults], env-files, inline keys. */
  env: EnvEntries;
  /** Keys whose current value stays when the manifest gives none. */
  keep: string[];
  limits: Limits;
  probe: ProfileSettings;
  enabled: boolean;
}

/** A parsed manifest. */
export interface Manifest {
  file: string;
  /** The host settings `[defaults]` gives (the rest stay as they are). */
  host: HostValue[];
  profiles: DeclaredProfile[];
}

/** A manifest that breaks a rule: exit 2, naming the file and the line. */
export class ManifestError extends UsageError {
  override name = "UsageError";
  constructor(file: string, line: number, problem: string) {
    super(`${file}: line ${line}: ${problem}`, "fix that line; `profiles plan -f FILE` checks a manifest and changes nothing");
  }
}

/** The settings a section may hold, each with its rule. */
const SETTINGS: Record<string, { schema: ZodMiniType; defaults: boolean }> = {
  port: { schema: string(), defaults: false },
  enabled: { schema: enumOf(["yes", "no", "true", "false"], { message: "must be yes or no" }), defaults: true },
  "env-file": { schema: string().check(minLength(1, "must be a path")), defaults: true },
  keep: {
    schema: string().check(refine((v: string) => v.split(/[\s,]+/).every((k) => k === "" || keyProblem(k) === null), { message: "must be environment variable names, separated by commas" })),
    defaults: true,
  },
  "memory-max": { schema: string(), defaults: true },
  "cpu-quota": { schema: string(), defaults: true },
  "tasks-max": { schema: string(), defaults: true },
  "restart-sec": { schema: string(), defaults: true },
  probe: { schema: enumOf(PROBE_KINDS as unknown as [string, ...string[]], { message: `must be one of ${PROBE_KINDS.join(", ")}` }), defaults: true },
  "health-path": { schema: string().check(regex(/^\/[\x21-\x7e]*$/, "must be a path starting with / and without spaces")), defaults: true },
  "probe-timeout": {
    schema: coerce.number({ message: "must be a number of milliseconds" }).check(int("must be a whole number of milliseconds"), minimum(50, "must be at least 50"), maximum(600_000, "must be at most 600000")),
    defaults: true,
  },
};

/** The manifest's setting for each limit, and the check `profiles limits` makes of it. */
export const LIMIT_SETTINGS: [string, keyof Limits, (v: string) => string][] = [
  ["memory-max", "MemoryMax", checkMemoryMax],
  ["cpu-quota", "CPUQuota", checkCpuQuota],
  ["tasks-max", "TasksMax", checkTasksMax],
  ["restart-sec", "RestartSec", checkRestartSec],
];

/** A key of this form is a setting; an environment variable of this form is written `env.KEY`. */
export const SETTING_RE = /^[a-z][a-z0-9-]*$/;
/** Section headers as scanSections gives them (whitespace made one space): a profile's, and one host's [defaults]. */
export const PROFILE_RE = /^profile (.*)$/;
export const HOST_SECTION_RE = /^host (.+)$/;

/** The manifest's text: the file, or stdin for `-` (exit 2 when it cannot be read). */
export function readManifestText(file: string): string {
  try {
    return decodeBytes(readInput(file === "-" ? 0 : file));
  } catch (err) {
    throw new UsageError(`the manifest ${file === "-" ? "on standard input" : file} ${readProblem(err)}`, "give an existing file with -f; `profiles export > profiles.ini` writes one");
  }
}

/**
 * Read and check the manifest at `file` (`-`: stdin); ManifestError (exit 2) naming the line of the first
 * problem. `portVar`: config.ini's, unless the manifest's `port-var` says otherwise. `env` is what a driving
 * `profiles --host` says of this host's part: AP_MANIFEST_NAME names it in errors, AP_MANIFEST_HOST is the
 * `[host NAME]` section meant for this host.
 */
export function readManifest(file: string, portVar: string, env: NodeJS.ProcessEnv = {}): Manifest {
  const text = readManifestText(file);
  // `-f -`: the manifest on stdin (as `--host` sends each host its part); env-file paths resolve against the working directory.
  if (file === "-") return parseManifest(text, env.AP_MANIFEST_NAME || "<stdin>", portVar, process.cwd(), env.AP_MANIFEST_HOST);
  return parseManifest(text, file, portVar, undefined, env.AP_MANIFEST_HOST);
}

/** Parse manifest `text` (from `file`, against which env-file paths resolve). */
export function parseManifest(text: string, file: string, portVar: string, dir = path.dirname(path.resolve(file)), forHostName?: string): Manifest {
  const scanned = scanSections(text);
  if (!Array.isArray(scanned)) throw new ManifestError(file, scanned.line, scanned.message);
  let defaults: ManifestSection | null = null;
  const seen = new Map<string, number>();
  const sections: [string, ManifestSection][] = [];
  let hostDefaults: ManifestSection | null = null;
  for (const s of scanned) {
    if (s.header === "defaults") {
      if (defaults) throw new ManifestError(file, s.line, `[defaults] appears twice (first at line ${defaults.line})`);
      defaults = s;
      continue;
    }
    // `[host NAME]`: [defaults] for one host, which the driver of `--host` sends only that host (naming it).
    const forHost = HOST_SECTION_RE.exec(s.header);
    if (forHost) {
      if (forHost[1]!.trim() !== forHostName) throw new ManifestError(file, s.line, `[${s.header}] holds one host's settings: plan or apply the manifest with --host or --hosts-file`);
      if (hostDefaults) throw new ManifestError(file, s.line, `[${s.header}] appears twice (first at line ${hostDefaults.line})`);
      hostDefaults = s;
      continue;
    }
    const m = PROFILE_RE.exec(s.header);
    if (!m) throw new ManifestError(file, s.line, `unknown section [${s.header}] (known: [defaults], [profile NAME], and with --host [host NAME])`);
    const name = m[1]!.trim();
    if (!isProfileName(name)) throw new ManifestError(file, s.line, `"${name}" is no profile name: a name is ${NAME_RULE}`);
    const first = seen.get(name);
    if (first !== undefined) throw new ManifestError(file, s.line, `[profile ${name}] appears twice (first at line ${first})`);
    // The driver of `plan`/`apply --host` takes these lines out of each host's part (fleet/manifest.ts).
    const hosts = s.entries.find((e) => e.key === "hosts");
    if (hosts) throw new ManifestError(file, hosts.line, "`hosts` says which hosts run this profile: plan or apply the manifest with --host or --hosts-file");
    seen.set(name, s.line);
    sections.push([name, s]);
  }
  if (hostDefaults) {
    const own = new Set(hostDefaults.entries.map((e) => e.key));
    defaults = { header: "defaults", line: defaults?.line ?? hostDefaults.line, entries: [...(defaults?.entries ?? []).filter((e) => !own.has(e.key)), ...hostDefaults.entries] };
  }
  const host: HostValue[] = [];
  // The port variable the profiles' sections are read with is the one the manifest sets, if it does.
  const givenPortVar = defaults?.entries.find((e) => e.key === "port-var");
  if (givenPortVar) portVar = hostValue(givenPortVar, HOST_SETTINGS.get("port-var")!, (p) => failAt(file, givenPortVar.line, p)).value as string;
  const base = defaults ? sectionSettings(defaults, true, file, dir, portVar, host) : null;
  const profiles = sections.map(([name, s]) => declare(name, s.line, base, sectionSettings(s, false, file, dir, portVar, host), file, portVar));
  return { file, host, profiles };
}

/** What one section says, checked. */
interface SectionSettings {
  settings: Map<string, { value: unknown; line: number }>;
  env: EnvEntries;
  envLines: Map<string, number>;
}

function failAt(file: string, line: number, problem: string): never {
  throw new ManifestError(file, line, problem);
}

/** A section's settings and keys; a host setting of `[defaults]` goes into `host`. */
function sectionSettings(s: ManifestSection, isDefaults: boolean, file: string, dir: string, portVar: string, host: HostValue[]): SectionSettings {
  const settings = new Map<string, { value: unknown; line: number }>();
  const env: EnvEntries = new Map();
  const envLines = new Map<string, number>();
  const fail = (e: ManifestEntry, problem: string): never => {
    throw new ManifestError(file, e.line, problem);
  };
  for (const e of s.entries) {
    if (SETTING_RE.test(e.key)) {
      const hostRule = HOST_SETTINGS.get(e.key);
      if (hostRule && !isDefaults) fail(e, `"${e.key}" is a host setting (as \`profiles init --${e.key}\` sets it): it belongs in [defaults]`);
      if (hostRule) {
        host.push(hostValue(e, hostRule, (p) => fail(e, p)));
        continue;
      }
      // Own keys only: `constructor` is lowercase, so a setting's name, and no rule of Object.prototype's.
      if (Object.hasOwn(NOT_IN_MANIFEST, e.key)) fail(e, `${e.key} cannot be in a manifest: ${NOT_IN_MANIFEST[e.key]}`);
      const rule = Object.hasOwn(SETTINGS, e.key) ? SETTINGS[e.key] : undefined;
      if (!rule) fail(e, `unknown setting "${e.key}" in [${s.header}] (known: ${Object.keys(SETTINGS).join(", ")}; host settings in [defaults]: ${[...HOST_SETTINGS.keys()].join(", ")}; an environment variable in lowercase is written env.${e.key})`);
      if (isDefaults && !rule!.defaults) fail(e, `"${e.key}" cannot be in [defaults]: each profile needs its own`);
      const parsed = rule!.schema.safeParse(e.value);
      if (!parsed.success) fail(e, `${e.key} ${parsed.error.issues[0]?.message ?? "is not valid"}`);
      if (e.key === "env-file") {
        const envFile = path.resolve(dir, e.value);
        const keys = readEnvSource(envFile);
        if ("problem" in keys) fail(e, `env-file ${keys.problem}`);
        for (const [k, v] of keys as EnvEntries) setEnv(k, v, e.line);
      } else settings.set(e.key, { value: parsed.data, line: e.line });
      continue;
    }
    const key = e.key.startsWith("env.") ? e.key.slice(4) : e.key;
    const kp = keyProblem(key);
    if (kp) fail(e, `"${e.key}" is neither a setting (lowercase letters, digits, -) nor an environment variable name: a name ${kp}`);
    const vp = valueProblem(e.value);
    if (vp) fail(e, `the value of ${key} ${vp}`);
    if (envLines.has(key)) fail(e, `${key} is set twice in [${s.header}] (first at line ${envLines.get(key)})`);
    setEnv(key, e.value, e.line);
  }
  noteEntries(env);
  return { settings, env, envLines };

  function setEnv(key: string, value: string, line: number): void {
    if (key === portVar && isDefaults) throw new ManifestError(file, line, `${portVar} carries each profile's port: it cannot be in [defaults]`);
    env.set(key, value);
    if (!envLines.has(key)) envLines.set(key, line);
  }
}

function declare(name: string, line: number, base: SectionSettings | null, own: SectionSettings, file: string, portVar: string): DeclaredProfile {
  const get = (key: string) => own.settings.get(key) ?? base?.settings.get(key);
  const env: EnvEntries = new Map(base?.env ?? []);
  for (const [k, v] of own.env) env.set(k, v);
  const keep = [...new Set([...keepList(base), ...keepList(own)])];
  const limits: Limits = {};
  for (const [setting, key, check] of LIMIT_SETTINGS) {
    const s = get(setting);
    if (s === undefined || s.value === "") continue;
    try {
      limits[key] = check(String(s.value));
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      throw new ManifestError(file, s.line, err.message.replace(/^--/, ""));
    }
  }
  const probe: ProfileSettings = {};
  const kind = get("probe");
  if (kind) probe.probe = kind.value as ProfileSettings["probe"];
  const healthPath = get("health-path");
  if (healthPath) probe.healthPath = healthPath.value as string;
  const timeout = get("probe-timeout");
  if (timeout) probe.probeTimeoutMs = timeout.value as number;
  const enabled = get("enabled");
  const portSetting = own.settings.get("port");
  let port = portSetting ? checkedPort(String(portSetting.value), "port", portSetting.line, file) : null;
  // The port variable given as a key (an env-file from a hand-written setup holds it) is the port: both must agree.
  const raw = env.get(portVar);
  if (raw !== undefined) {
    const at = own.envLines.get(portVar) ?? line;
    const fromEnv = checkedPort(raw, portVar, at, file);
    if (port !== null && port !== fromEnv) throw new ManifestError(file, at, `[profile ${name}] gives port ${port} and ${portVar}=${fromEnv}: give one`);
    port = fromEnv;
    env.delete(portVar);
  }
  return { name, line, port, env, keep, limits, probe, enabled: enabled ? ["yes", "true"].includes(enabled.value as string) : true };
}

function keepList(s: SectionSettings | null): string[] {
  const k = s?.settings.get("keep");
  return k ? String(k.value).split(/[\s,]+/).filter((x) => x !== "") : [];
}

function checkedPort(raw: string, what: string, line: number, file: string): number {
  try {
    return parsePort(raw, what);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new ManifestError(file, line, err.message);
  }
}

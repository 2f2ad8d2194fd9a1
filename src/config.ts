import fs from "node:fs/promises";
import ini from "ini";
import {
  _default,
  boolean,
  coerce,
  enum as enumOf,
  int,
  maximum,
  minimum,
  NEVER,
  object,
  pipe,
  prefault,
  refine,
  regex,
  string,
  transform,
  type ZodMiniType,
} from "./schema.js";
import { BadFileError, NotInitialisedError, UsageError } from "./errors.js";
import type { Paths } from "./paths.js";
import { PROBE_KINDS, type ProbeKind } from "./probe/types.js";
import { ensureDir, writeFileAtomic } from "./store/atomic.js";
import { noteUrlSecrets, parseSecretNames, setSecretNames } from "./secrets.js";
import { keyProblem } from "./store/envfile.js";

/** The tool's own settings, from `config.ini`. */
export interface Config {
  /** Inclusive port range for profiles added without --port. */
  portRange: { from: number; to: number };
  /** The variable that carries a profile's port in its `.env`. */
  portVar: string;
  /** The gateway command as the user gave it; empty means the bundled reference gateway. */
  exec: string;
  healthPath: string;
  /** Where the template appends each profile's output; empty means the journal. */
  logDir: string;
  /** How many generations of each `.env` are kept. */
  keepGenerations: number;
  /** The health probe's kind; a profile's `profile.ini` may override it. */
  probe: ProbeKind;
  /** How long one probe may take. */
  probeTimeoutMs: number;
  /** Whether `profiles init` installs and starts the nightly sweep timer. */
  sweepTimer: boolean;
  /** Prometheus textfile a sweep writes when `--textfile` is not given; empty: none. */
  sweepTextfile: string;
  /** URL a sweep POSTs to when something is unhealthy and `--webhook` is not given; empty: none. Kept here (0600), not in argv. */
  sweepWebhook: string;
  /** The variable that carries a profile's listen host in its `.env`; the probe goes there. */
  hostVar: string;
  /** The template's Type=: `notify` makes a start wait for the gateway's READY=1. */
  serviceType: ServiceType;
  /** The template's TimeoutStopSec=: how long a stop waits before SIGKILL. */
  stopTimeoutSec: number;
  /** Signal name (`HUP`, `USR1`, ...) the template's ExecReload= sends; empty: no reload command. */
  reloadSignal: string;
  /** Key names (`*` a wildcard) whose values are secrets beyond the built-in rule (`[secrets] keys`). */
  secretKeys: string[];
  /** Keys no two profiles may share a value of (`[unique] keys`): one bot token, one gateway. */
  uniqueKeys: string[];
}

/** The service types `profiles init --service-type` accepts. */
export const SERVICE_TYPES = ["simple", "exec", "notify"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
/** Signals a gateway may take as "reload your settings". */
export const RELOAD_SIGNALS = ["HUP", "USR1", "USR2"] as const;

export const DEFAULT_CONFIG: Config = {
  portRange: { from: 8600, to: 8699 },
  portVar: "PORT",
  exec: "",
  healthPath: "/health",
  logDir: "",
  keepGenerations: 20,
  probe: "http",
  probeTimeoutMs: 2000,
  sweepTimer: true,
  sweepTextfile: "",
  sweepWebhook: "",
  hostVar: "HOST",
  serviceType: "simple",
  stopTimeoutSec: 15,
  reloadSignal: "",
  secretKeys: [],
  uniqueKeys: [],
};

/** Parse `A-B` into a port range within 1024-65535, A <= B. */
export function parseRange(text: string): { from: number; to: number } | string {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  if (!m) return `"${text}" is not A-B (for example 8600-8699)`;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1024 || to > 65535) return `"${text}" must lie within 1024-65535`;
  if (from > to) return `"${text}" starts after it ends`;
  return { from, to };
}

const rangeSchema = pipe(
  string(),
  transform((text: string, ctx) => {
    const r = parseRange(text);
    if (typeof r === "string") {
      ctx.issues.push({ code: "custom", message: r, input: text });
      return NEVER;
    }
    return r;
  }),
);

const varSchema = string().check(refine((v: string) => keyProblem(v) === null, { message: "must be an environment variable name (letters, digits, _)" }));
const healthPathSchema = string().check(regex(/^\/[\x21-\x7e]*$/, "must be a path starting with / and without spaces"));
const logDirSchema = string().check(refine((v: string) => v === "" || v.startsWith("/"), { message: "must be an absolute path" }));
const probeSchema = enumOf(PROBE_KINDS as [ProbeKind, ...ProbeKind[]], { message: `must be one of ${PROBE_KINDS.join(", ")}` });
const probeTimeoutSchema = coerce
  .number({ message: "must be a number of milliseconds" })
  .check(int("must be a whole number of milliseconds"), minimum(50, "must be at least 50 ms"), maximum(600_000, "must be at most 600000 ms (10 min)"));
// ini turns `true`/`false` into booleans, but a hand edit may quote them.
const boolSchema = pipe(
  transform((v: unknown) => (v === "true" ? true : v === "false" ? false : v)),
  boolean({ message: "must be true or false" }),
);
const textfileSchema = string().check(refine((v: string) => v === "" || (v.startsWith("/") && v.endsWith(".prom")), { message: "must be an absolute path ending in .prom" }));
const webhookSchema = string().check(refine((v: string) => v === "" || isHttpUrl(v), { message: "must be an http:// or https:// URL" }));

/** Whether `text` is an absolute http(s) URL. */
export function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

const secretKeysSchema = pipe(
  string(),
  transform((text: string, ctx) => {
    const r = parseSecretNames(text);
    if (Array.isArray(r)) return r;
    ctx.issues.push({ code: "custom", message: r.problem, input: text });
    return NEVER;
  }),
);

const uniqueKeysSchema = pipe(
  string(),
  transform((text: string, ctx) => {
    const keys = text.split(/[\s,]+/).filter((k) => k !== "");
    if (keys.every((k) => keyProblem(k) === null)) return keys;
    ctx.issues.push({ code: "custom", message: "must be environment variable names, separated by commas", input: text });
    return NEVER;
  }),
);

const serviceTypeSchema = enumOf(SERVICE_TYPES, { message: `must be one of ${SERVICE_TYPES.join(", ")}` });
const stopTimeoutSchema = coerce
  .number({ message: "must be a number of seconds" })
  .check(int("must be a whole number of seconds"), minimum(1, "must be at least 1 s"), maximum(3600, "must be at most 3600 s (1 h)"));
// "SIGHUP" and "hup" mean HUP; empty means no reload command.
const reloadSignalSchema = pipe(
  string(),
  transform((v: string) => v.trim().toUpperCase().replace(/^SIG/, "")),
).check(refine((v: string) => v === "" || (RELOAD_SIGNALS as readonly string[]).includes(v), { message: `must be one of ${RELOAD_SIGNALS.join(", ")} (or "" for none)` }));

const fileSchema = object({
  ports: prefault(object({ range: prefault(rangeSchema, "8600-8699"), variable: _default(varSchema, "PORT") }), {}),
  gateway: prefault(
    object({
      exec: _default(string(), ""),
      health_path: _default(healthPathSchema, "/health"),
      log_dir: _default(logDirSchema, ""),
      probe: _default(probeSchema, "http"),
      probe_timeout_ms: _default(probeTimeoutSchema, 2000),
      host_variable: _default(varSchema, "HOST"),
      service_type: _default(serviceTypeSchema, "simple"),
      stop_timeout_sec: _default(stopTimeoutSchema, 15),
      reload_signal: _default(reloadSignalSchema, ""),
    }),
    {},
  ),
  sweep: prefault(object({ timer: _default(boolSchema, true), textfile: _default(textfileSchema, ""), webhook: _default(webhookSchema, "") }), {}),
  generations: prefault(object({ keep: _default(coerce.number().check(int(), minimum(1), maximum(10000)), 20) }), {}),
  secrets: prefault(object({ keys: prefault(secretKeysSchema, "") }), {}),
  unique: prefault(object({ keys: prefault(uniqueKeysSchema, "") }), {}),
});

/** A `config.ini` setting that `profiles init` takes as a flag, checked by the schema that checks the file. */
export interface ConfigFlag {
  /** The flag, and the key yargs puts its value under. */
  flag: string;
  arg: string;
  key: keyof Config;
  schema: ZodMiniType;
  /** A number: a blank value is refused as not a number (coerce would read it as 0). */
  number?: boolean;
}

/** `init`'s flags whose rule is the file's: one schema per setting, for the flag and the file alike. */
export const CONFIG_FLAGS: ConfigFlag[] = [
  { flag: "--health-path", arg: "healthPath", key: "healthPath", schema: healthPathSchema },
  { flag: "--service-type", arg: "serviceType", key: "serviceType", schema: serviceTypeSchema },
  { flag: "--stop-timeout", arg: "stopTimeout", key: "stopTimeoutSec", schema: stopTimeoutSchema, number: true },
  { flag: "--reload-signal", arg: "reloadSignal", key: "reloadSignal", schema: reloadSignalSchema },
  { flag: "--probe", arg: "probe", key: "probe", schema: probeSchema },
  { flag: "--probe-timeout", arg: "probeTimeout", key: "probeTimeoutMs", schema: probeTimeoutSchema, number: true },
  { flag: "--secret-keys", arg: "secretKeys", key: "secretKeys", schema: secretKeysSchema },
  { flag: "--unique", arg: "unique", key: "uniqueKeys", schema: uniqueKeysSchema },
];

/** A flag's value as its setting holds it; a UsageError names the flag, the value and the rule. */
export function checkConfigFlag(f: ConfigFlag, v: unknown): unknown {
  const r = f.schema.safeParse(f.number && typeof v === "string" && v.trim() === "" ? "x" : v);
  if (!r.success) throw new UsageError(`${f.flag} "${String(v)}" ${r.error.issues[0]?.message}`);
  return r.data;
}

/** Check a variable name given on the command line. */
export function checkVarName(flag: string, v: string): string {
  const problem = keyProblem(v);
  if (problem) throw new UsageError(`${flag} "${v}" ${problem}`);
  return v;
}

/** Read config.ini; NotInitialisedError if it is missing, BadFileError naming the field if it is invalid. */
export async function loadConfig(paths: Paths): Promise<Config> {
  let text: string;
  try {
    text = await fs.readFile(paths.configFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new NotInitialisedError(paths.configFile);
    throw new BadFileError(paths.configFile, `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  const parsed = fileSchema.safeParse(ini.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") ?? "?";
    throw new BadFileError(paths.configFile, `${where}: ${issue?.message}`, "fix the file by hand, or move it away and run `profiles init` again");
  }
  const f = parsed.data;
  // What this file says is secret is known before anything is printed.
  setSecretNames(f.secrets.keys);
  noteUrlSecrets(f.sweep.webhook);
  return {
    portRange: f.ports.range,
    portVar: f.ports.variable,
    exec: f.gateway.exec,
    healthPath: f.gateway.health_path,
    logDir: f.gateway.log_dir,
    keepGenerations: f.generations.keep,
    probe: f.gateway.probe,
    probeTimeoutMs: f.gateway.probe_timeout_ms,
    sweepTimer: f.sweep.timer,
    sweepTextfile: f.sweep.textfile,
    sweepWebhook: f.sweep.webhook,
    hostVar: f.gateway.host_variable,
    serviceType: f.gateway.service_type,
    stopTimeoutSec: f.gateway.stop_timeout_sec,
    reloadSignal: f.gateway.reload_signal,
    secretKeys: f.secrets.keys,
    uniqueKeys: f.unique.keys,
  };
}

/** Read config.ini, or null when there is none yet. */
export async function loadConfigIfAny(paths: Paths): Promise<Config | null> {
  try {
    return await loadConfig(paths);
  } catch (err) {
    if (err instanceof NotInitialisedError) return null;
    throw err;
  }
}

/** Write config.ini atomically. */
export async function saveConfig(paths: Paths, config: Config): Promise<void> {
  await ensureDir(paths.appConfigDir, 0o700);
  const body = ini.stringify({
    ports: { range: `${config.portRange.from}-${config.portRange.to}`, variable: config.portVar },
    gateway: {
      exec: config.exec,
      health_path: config.healthPath,
      log_dir: config.logDir,
      probe: config.probe,
      probe_timeout_ms: config.probeTimeoutMs,
      host_variable: config.hostVar,
      service_type: config.serviceType,
      stop_timeout_sec: config.stopTimeoutSec,
      reload_signal: config.reloadSignal,
    },
    generations: { keep: config.keepGenerations },
    sweep: { timer: config.sweepTimer, textfile: config.sweepTextfile, webhook: config.sweepWebhook },
    secrets: { keys: config.secretKeys.join(", ") },
    unique: { keys: config.uniqueKeys.join(", ") },
  });
  await writeFileAtomic(paths.configFile, `; agent-profiles configuration, written by \`profiles init\`\n${body}`, 0o600);
}

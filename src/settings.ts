/**
 * config.ini's settings as data: for each, where the file keeps it, the one rule (a zod schema) its value
 * meets whether it comes from the file or from `init`'s flag, and that flag. config.ts reads and writes
 * the file from this table; `init` declares and checks its flags from it.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "./config.js";
import { execVarProblem } from "./core/gateway-unit.js";
import { envPathProblem } from "./env-path.js";
import { policySectionSchema } from "./core/restart-policy.js";
import { UsageError } from "./errors.js";
import { PROBE_KINDS, type ProbeKind } from "./probe/types.js";
import { boolean, coerce, enum as enumOf, int, maximum, minimum, NEVER, pipe, string, transform, type ZodMiniType } from "./schema.js";
import { noteUrlSecrets, parseSecretNames } from "./secrets.js";
import { keyProblem } from "./store/envfile.js";
import { formatSize, logKeepSchema, sizeSchema } from "./config-logs.js";

/** The service types `profiles init --service-type` accepts. */
export const SERVICE_TYPES = ["simple", "exec", "notify"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];
/** Signals a gateway may take as "reload your settings". */
export const RELOAD_SIGNALS = ["HUP", "USR1", "USR2"] as const;

/** A string setting whose value `convert` turns into what Config holds, or refuses with a message. */
function ruled<T>(convert: (text: string) => T | { problem: string }) {
  return pipe(
    string(),
    transform((text: string, ctx) => {
      const r = convert(text);
      if (r !== null && typeof r === "object" && "problem" in r) {
        ctx.issues.push({ code: "custom", message: r.problem, input: text });
        return NEVER;
      }
      return r as T;
    }),
  );
}

/** A string setting that is kept as given once `problem` finds nothing wrong with it. */
function checked(problem: (text: string) => string | null) {
  return ruled((text) => {
    const p = problem(text);
    return p === null ? text : { problem: p };
  });
}

/** A whole number of `unit`s within [min, max]; a blank value is not a number (coerce would read it as 0). */
function wholeNumber(unit: string, min: string, max: string) {
  return pipe(
    transform((v: unknown) => (typeof v === "string" && v.trim() === "" ? Number.NaN : v)),
    coerce
      .number({ message: `must be a number of ${unit}` })
      .check(int(`must be a whole number of ${unit}`), minimum(parseInt(min), `must be at least ${min}`), maximum(parseInt(max), `must be at most ${max}`)),
  );
}

/** Parse `A-B` into a port range within 1024-65535, A <= B. */
export function parseRange(text: string): { from: number; to: number } | string {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  if (!m) return "is not A-B (for example 8600-8699)";
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1024 || to > 65535) return "must lie within 1024-65535";
  if (from > to) return "starts after it ends";
  return { from, to };
}

/** Whether `text` is an absolute http(s) URL. */
export function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** An absolute `.prom` path in an existing, writable directory: node_exporter reads only `*.prom` files. */
export async function checkTextfile(flag: string, raw: string): Promise<string> {
  const file = path.resolve(raw);
  if (!file.endsWith(".prom")) throw new UsageError(`${flag} "${raw}" must end in .prom (node_exporter's textfile collector reads only *.prom)`);
  const dir = path.dirname(file);
  const st = await fs.stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`${flag} "${raw}": directory ${dir} does not exist`, `create it (mkdir -p ${dir}), or point ${flag} at node_exporter's textfile directory`);
  if (!(await fs.access(dir, fs.constants.W_OK).then(() => true, () => false))) throw new UsageError(`${flag} "${raw}": directory ${dir} is not writable by this user`);
  return file;
}

/**
 * An http(s) URL; the message does not repeat it, since webhook URLs carry tokens. `user:password@` is
 * accepted (sent as Basic auth); its parts and the query's values are secrets in every output from here on.
 */
export function checkWebhook(flag: string, raw: string): string {
  if (!isHttpUrl(raw)) throw new UsageError(`${flag} must be an http:// or https:// URL (it is not shown, in case it holds a token)`);
  noteUrlSecrets(raw);
  return raw;
}

const variable = checked(keyProblem);
// ini turns `true`/`false` into booleans, but a hand edit may quote them.
const bool = pipe(transform((v: unknown) => (v === "true" ? true : v === "false" ? false : v)), boolean({ message: "must be true or false" }));
const upper = (v: string) => v.trim().toUpperCase().replace(/^SIG/, "");

/** One setting: its place in config.ini, its rule, and the flag `init` takes for it. */
export interface Setting {
  key: keyof Config;
  section: string;
  /** Its key in the section; null: the whole section is its value (an object). */
  name: string | null;
  /** The rule for the file's value and the flag's alike; its output is what Config holds. */
  schema: ZodMiniType;
  /** How config.ini holds the value, when not as Config holds it. */
  toFile?: (value: never) => unknown;
  /** Its value is never repeated in an error (a URL may carry a token). */
  secret?: true;
  flag?: {
    name: string;
    describe: string;
    boolean?: true;
    /** What can only be checked when the flag is given (a directory that exists now); "" skips it. */
    now?: (flag: string, raw: string) => unknown;
  };
}

export const SETTINGS: Setting[] = [
  {
    key: "portRange", section: "ports", name: "range",
    schema: ruled((text) => { const r = parseRange(text); return typeof r === "string" ? { problem: r } : r; }),
    toFile: (r: { from: number; to: number }) => `${r.from}-${r.to}`,
    flag: { name: "range", describe: "Ports to hand out, A-B (default 8600-8699)" },
  },
  { key: "portVar", section: "ports", name: "variable", schema: variable, flag: { name: "port-var", describe: "Variable that carries the port in each .env (default PORT)" } },
  {
    key: "exec", section: "gateway", name: "exec",
    schema: pipe(pipe(string(), transform((v: string) => v.trim())), checked(execVarProblem)),
    flag: { name: "exec", describe: "Your gateway's command; %i is the profile name, ${VAR} a value from its .env (default: the bundled agent-gateway)" },
  },
  {
    key: "healthPath", section: "gateway", name: "health_path",
    schema: checked((v) => (/^\/[\x21-\x7e]*$/.test(v) ? null : "must be a path starting with / and without spaces")),
    flag: { name: "health-path", describe: "HTTP path of the health probe (default /health)" },
  },
  {
    key: "logDir", section: "gateway", name: "log_dir",
    // The template writes it into StandardOutput=append:DIR/%i.log, where a space or % would change its meaning.
    schema: checked((v) => (v === "" || (path.isAbsolute(v) && !/[\s%]/.test(v)) ? null : "must be an absolute path without spaces or %")),
    flag: { name: "log-dir", describe: "Append each profile's output to DIR/NAME.log instead of the journal" },
  },
  {
    key: "probe", section: "gateway", name: "probe",
    schema: enumOf(PROBE_KINDS as [ProbeKind, ...ProbeKind[]], { message: `must be one of ${PROBE_KINDS.join(", ")}` }),
    flag: { name: "probe", describe: "Health probe kind: http (GET the health path, expect 2xx) or tcp (a connect is enough); default http" },
  },
  {
    key: "probeTimeoutMs", section: "gateway", name: "probe_timeout_ms",
    schema: wholeNumber("milliseconds", "50 ms", "600000 ms (10 min)"),
    flag: { name: "probe-timeout", describe: "Milliseconds one health probe may take (default 2000)" },
  },
  { key: "hostVar", section: "gateway", name: "host_variable", schema: variable, flag: { name: "host-var", describe: "Variable that carries the listen host in each .env; the health probe goes there (default HOST)" } },
  {
    key: "serviceType", section: "gateway", name: "service_type",
    schema: enumOf(SERVICE_TYPES, { message: `must be one of ${SERVICE_TYPES.join(", ")}` }),
    flag: { name: "service-type", describe: "simple, exec, or notify (the gateway sends READY=1 once it listens; a start waits for it). Default simple" },
  },
  {
    key: "stopTimeoutSec", section: "gateway", name: "stop_timeout_sec",
    schema: wholeNumber("seconds", "1 s", "3600 s (1 h)"),
    flag: { name: "stop-timeout", describe: "Seconds a stop waits for the gateway to exit before SIGKILL (TimeoutStopSec, default 15)" },
  },
  {
    // "SIGHUP" and "hup" mean HUP; empty means no reload command.
    key: "reloadSignal", section: "gateway", name: "reload_signal",
    schema: ruled((v) => (v.trim() === "" || (RELOAD_SIGNALS as readonly string[]).includes(upper(v)) ? upper(v) : { problem: `must be one of ${RELOAD_SIGNALS.join(", ")} (or "" for none)` })),
    flag: { name: "reload-signal", describe: 'Signal `profiles reload` sends (HUP, USR1, USR2); "" for none, which makes reload refuse' },
  },
  {
    key: "logMaxBytes", section: "logs", name: "max_size", schema: sizeSchema, toFile: formatSize,
    flag: { name: "log-max-size", describe: "Rotate a profile's log file (--log-dir) once it is this big: 10M, 512K, 1G; 0 for never (default 10M)" },
  },
  { key: "logKeep", section: "logs", name: "keep", schema: logKeepSchema, flag: { name: "log-keep", describe: "How many rotated log files (NAME.log.1 ...) to keep (default 5)" } },
  { key: "keepGenerations", section: "generations", name: "keep", schema: wholeNumber("generations", "1", "10000") },
  {
    key: "sweepTimer", section: "sweep", name: "timer",
    schema: bool,
    flag: { name: "sweep", boolean: true, describe: "Install and start the nightly sweep timer (agent-profiles-sweep.timer); --no-sweep stops, disables and removes it. Default: as before (on)" },
  },
  {
    key: "sweepTextfile", section: "sweep", name: "textfile",
    schema: checked((v) => (v === "" || (v.startsWith("/") && v.endsWith(".prom")) ? null : "must be an absolute path ending in .prom")),
    flag: { name: "sweep-textfile", describe: 'Prometheus .prom file the sweep writes (the timer\'s, and `sweep` without --textfile); "" for none', now: checkTextfile },
  },
  {
    key: "sweepWebhook", section: "sweep", name: "webhook", secret: true,
    schema: checked((v) => (v === "" || isHttpUrl(v) ? null : "must be an http:// or https:// URL")),
    flag: { name: "sweep-webhook", describe: 'URL the sweep POSTs to when something is unhealthy; kept in config.ini (0600), out of the timer and cron command lines; "" for none', now: checkWebhook },
  },
  {
    key: "sweepRollbackBroken", section: "sweep", name: "rollback_broken", schema: bool,
    flag: { name: "sweep-rollback-broken", boolean: true, describe: "The sweep (the timer's too) rolls a profile that fails with a .env other than its known-good one back to known-good, within its restart budget; --no-sweep-rollback-broken leaves it (reported). Default: as before (off)" },
  },
  // The crash-loop policy: its flags are POLICY_FLAGS (init and limits take them), its file section [restart].
  { key: "restartPolicy", section: "restart", name: null, schema: policySectionSchema },
  {
    key: "uniqueKeys", section: "unique", name: "keys",
    schema: ruled((text) => {
      const keys = text.split(/[\s,]+/).filter((k) => k !== "");
      return keys.every((k) => keyProblem(k) === null) ? keys : { problem: "must be environment variable names, separated by commas" };
    }),
    toFile: (keys: string[]) => keys.join(", "),
    flag: { name: "unique", describe: 'Keys no two profiles may share a value of, e.g. "TELEGRAM_BOT_TOKEN, DISCORD_TOKEN" (add, set and apply refuse, exit 5); "" for none' },
  },
  {
    key: "envPath", section: "profiles", name: "env_path",
    schema: checked(envPathProblem),
    flag: { name: "env-path", describe: 'Where each profile\'s .env lives: %i the name, %h home, e.g. "%h/.hermes/profiles/%i/.env" (the files a gateway already reads); "" for the default ($XDG_CONFIG_HOME/agent-profiles/profiles/%i/.env)' },
  },
  {
    key: "secretKeys", section: "secrets", name: "keys",
    schema: ruled((text) => { const r = parseSecretNames(text); return Array.isArray(r) ? r : { problem: r.problem }; }),
    toFile: (keys: string[]) => keys.join(", "),
    flag: { name: "secret-keys", describe: 'More keys whose values are secrets, beyond names holding KEY, TOKEN, SECRET, PASS, AUTH, ...: "FOO, BAR_*" (* any run of letters, digits, _); "" for none' },
  },
];

/** The key yargs puts a flag's value under. */
export function flagArg(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** What is wrong with a setting's value, naming where it came from (a flag, or `section.name:` of the file). */
export function settingProblem(where: string, s: Setting, raw: unknown, message: string | undefined): string {
  return s.secret ? `${where} ${message}` : `${where} "${String(raw)}" ${message}`;
}

/** A flag's value as its setting holds it; a UsageError names the flag, the value and the rule. */
export async function settingFromFlag(s: Setting, raw: unknown): Promise<unknown> {
  const flag = `--${s.flag?.name}`;
  const given = s.flag?.now && raw !== "" ? await s.flag.now(flag, String(raw)) : raw;
  const r = s.schema.safeParse(given);
  if (!r.success) throw new UsageError(settingProblem(flag, s, raw, r.error.issues[0]?.message));
  return r.data;
}

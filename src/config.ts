import fs from "node:fs/promises";
import ini from "ini";
import { BadFileError, NotInitialisedError } from "./errors.js";
import type { RestartPolicy } from "./core/restart-policy.js";
import type { Paths } from "./paths.js";
import type { ProbeKind } from "./probe/types.js";
import { object, prefault, type ZodMiniType } from "./schema.js";
import { noteUrlSecrets, setSecretNames } from "./secrets.js";
import { SETTINGS, settingProblem, type ServiceType, type Setting } from "./settings.js";
import { ensureDir, writeFileAtomic } from "./store/atomic.js";

export { SERVICE_TYPES, RELOAD_SIGNALS, type ServiceType } from "./settings.js";

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
  /** A log file this big (bytes) is rotated by the sweep (`[logs] max_size`); 0: never. */
  logMaxBytes: number;
  /** How many rotated files (NAME.log.1 ... NAME.log.N) are kept (`[logs] keep`). */
  logKeep: number;
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
  /** Whether a sweep with --restart-unhealthy rolls a profile broken by its .env back to known-good (`--rollback-broken`). */
  sweepRollbackBroken: boolean;
  /** The crash-loop policy `init` writes into the template (`[restart]`); absent keys keep the template's. */
  restartPolicy: RestartPolicy;
  /** Keys no two profiles may share a value of (`[unique] keys`): one bot token, one gateway. */
  uniqueKeys: string[];
  /** Where each profile's `.env` lives, `%i` the name, `%h` home (`[profiles] env_path`); "" the default place. */
  envPath: string;
}

export const DEFAULT_CONFIG: Config = {
  portRange: { from: 8600, to: 8699 },
  portVar: "PORT",
  exec: "",
  healthPath: "/health",
  logDir: "",
  logMaxBytes: 10 * 1024 * 1024,
  logKeep: 5,
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
  sweepRollbackBroken: false,
  restartPolicy: {},
  uniqueKeys: [],
  envPath: "",
};

/** config.ini's shape, from the settings table: each section an object, each setting its rule with its default. */
const fileSchema = (() => {
  const sections: Record<string, Record<string, ZodMiniType>> = {};
  const whole: Record<string, ZodMiniType> = {};
  for (const s of SETTINGS) {
    if (s.name === null) whole[s.section] = prefault(s.schema, fileValue(s, DEFAULT_CONFIG[s.key]));
    else (sections[s.section] ??= {})[s.name] = prefault(s.schema, fileValue(s, DEFAULT_CONFIG[s.key]));
  }
  return object({ ...Object.fromEntries(Object.entries(sections).map(([name, keys]) => [name, prefault(object(keys), {})])), ...whole });
})();

function fileValue(s: Setting, value: unknown): unknown {
  return s.toFile ? s.toFile(value as never) : value;
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
  const raw = ini.parse(text);
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [section, name] = (issue?.path ?? []).map(String);
    const s = SETTINGS.find((x) => x.section === section && (x.name === name || x.name === null));
    const where = `${issue?.path.join(".") ?? "?"}:`;
    const problem = s ? settingProblem(where, s, raw[section!]?.[name!], issue?.message) : `${where} ${issue?.message}`;
    throw new BadFileError(paths.configFile, problem, "fix the file by hand, or move it away and run `profiles init` again");
  }
  const f = parsed.data as Record<string, Record<string, unknown>>;
  const config = Object.fromEntries(SETTINGS.map((s) => [s.key, s.name === null ? f[s.section] : f[s.section]![s.name]])) as unknown as Config;
  // What this file says is secret is known before anything is printed.
  setSecretNames(config.secretKeys);
  noteUrlSecrets(config.sweepWebhook);
  return config;
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
  const sections: Record<string, Record<string, unknown>> = {};
  for (const s of SETTINGS) {
    if (s.name === null) sections[s.section] = fileValue(s, config[s.key]) as Record<string, unknown>;
    else (sections[s.section] ??= {})[s.name] = fileValue(s, config[s.key]);
  }
  const body = ini.stringify(sections);
  await writeFileAtomic(paths.configFile, `; agent-profiles configuration, written by \`profiles init\`\n${body}`, 0o600);
}

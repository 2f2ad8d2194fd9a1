/**
 * Settings the reference gateway can change while it runs: re-read from the profile's `.env` on
 * SIGHUP (`profiles reload`). The manager loaded that file into the environment at start, so a reload
 * reads the file itself (`$AGENT_ENV_FILE`, set by the template). The listen address cannot change
 * without a restart; a reload says so instead of pretending.
 */
import fs from "node:fs";
import { parseEnv } from "../store/envfile.js";

/** What a reload may change. */
export interface LiveSettings {
  /** Shown on `/`. */
  greeting: string;
  /** `debug` logs each request to stderr. */
  logLevel: string;
}

/** The live settings in `env`. */
export function liveSettings(env: Readonly<Record<string, string | undefined>>): LiveSettings {
  return { greeting: env.GREETING ?? "", logLevel: env.LOG_LEVEL ?? "info" };
}

/** What one reload did, for the gateway's log. */
export interface ReloadOutcome {
  changed: string[];
  /** Variables that changed in the file but only take effect at the next start. */
  needsRestart: string[];
}

/**
 * Re-read `file` and apply what can change at once to `live`, in place. `running` is the environment
 * the process started with; `restartVars` are the variables bound at start (port, host).
 */
export function reloadLive(file: string, live: LiveSettings, running: Readonly<Record<string, string | undefined>>, restartVars: string[]): ReloadOutcome {
  // Synchronous on purpose: the signal handler applies the new settings before any request after it is served.
  const { entries } = parseEnv(fs.readFileSync(file, "utf8"));
  const next = liveSettings(Object.fromEntries(entries));
  const changed = (Object.keys(next) as (keyof LiveSettings)[]).filter((k) => next[k] !== live[k]);
  Object.assign(live, next);
  const needsRestart = restartVars.filter((v) => (entries.get(v) ?? undefined) !== running[v]);
  return { changed, needsRestart };
}

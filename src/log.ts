import { createRequire } from "node:module";
import type { Logger as Pino } from "pino";
import { redactData, redactText } from "./redact.js";

/** What the CLI logs through: structured lines on stderr, never on stdout where results go. */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
type Level = (typeof LEVELS)[number];

/**
 * A pino logger on stderr at `warn`, or `debug` with --verbose (PROFILES_LOG_LEVEL overrides both).
 * pino is loaded on the first line actually written, so that quiet runs do not pay for its import; the
 * build bundles it as `pino.cjs` beside this file and the CLI (scripts/bundle.mjs), so that an install
 * needs none of its dependencies.
 */
export function createLogger(verbose: boolean, env: NodeJS.ProcessEnv = process.env): Logger {
  const asked = env.PROFILES_LOG_LEVEL as Level | undefined;
  const level: Level = asked && LEVELS.includes(asked) ? asked : verbose ? "debug" : "warn";
  const rank = LEVELS.indexOf(level);
  let pino: Pino | undefined;
  const get = (): Pino => {
    if (!pino) {
      const make = createRequire(import.meta.url)("./pino.cjs") as typeof import("pino").default;
      pino = make({ level, base: { pid: process.pid }, timestamp: make.stdTimeFunctions.isoTime }, make.destination(2));
    }
    return pino;
  };
  const at = (l: Level) => (fields: Record<string, unknown>, message: string) => {
    // Fields and message are redacted before pino serialises them (src/redact.ts): a line on stderr is output too.
    if (LEVELS.indexOf(l) >= rank) get()[l as "debug" | "info" | "warn"](redactData(fields), redactText(message));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn") };
}

/**
 * What redaction must know before a command prints anything: config.ini's secret key names, and the
 * values of every profile's `.env`, not only of those the command reads (`ps` shows command lines,
 * `logs` a gateway's output, a doctor message a process: any may carry a profile's token).
 */
import { readdirSync, readFileSync } from "node:fs";
import { envFile, type Paths } from "../paths.js";
import { parseEnv } from "../store/envfile.js";
import { generationsDir } from "../store/generations.js";
import { isProfileName } from "../store/names.js";
import type { Context } from "./context.js";

// Synchronous, as readEnv: ~200 small local files, where a thread-pool hop per file would cost more than the read.
function parseFile(file: string): void {
  try {
    parseEnv(readFileSync(file, "utf8"));
  } catch {
    // Unreadable or gone: the command that needs it says so; here it just has no values to note.
  }
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Note config.ini's names and every profile's current values (parseEnv notes them); never throws. */
export async function learnSecrets(ctx: Context): Promise<void> {
  // A config.ini that cannot be read is the command's error to report, when it reads it.
  await ctx.config().catch(() => undefined);
  for (const name of names(ctx.paths.profilesDir)) if (isProfileName(name)) parseFile(envFile(ctx.paths, name));
}

/**
 * Note the values of every kept generation of a profile too, before its gateway's output is shown: a
 * log holds lines of earlier runs, which may echo a token the `.env` has since replaced.
 */
export function learnPastSecrets(paths: Paths, name: string): void {
  const dir = generationsDir(paths, name);
  for (const f of names(dir)) if (/^\d+\.env$/.test(f)) parseFile(`${dir}/${f}`);
}

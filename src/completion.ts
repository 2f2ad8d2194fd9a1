/** Shell completion (`profiles completion`): yargs completes verbs and options, this adds profile names. */
import { readFileSync } from "node:fs";
import ini from "ini";
import type { CommandSpec } from "./commands/command.js";
import { resolvePaths } from "./paths.js";
import { profileNames } from "./store/profiles.js";

type Done = (completions: string[]) => void;
type Defaults = (onCompleted: (err: Error | null, completions: string[] | undefined) => void) => void;

/** The verbs (and their aliases) whose positionals are profile names, read from their declarations. */
function namedVerbs(commands: CommandSpec[]): Set<string> {
  const verbs = new Set<string>();
  for (const spec of commands) {
    for (const form of [spec.command].flat()) {
      const [verb, ...rest] = form.split(" ");
      if (rest.some((p) => /^[<[]names?(\.\.)?[>\]]$/.test(p))) verbs.add(verb!);
    }
  }
  return verbs;
}

function readTextOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

/**
 * yargs' completion function (the 4-argument form: it gets yargs' own completions first). After a verb
 * that takes profile names, the names of existing profiles that start with the word being completed.
 */
export function completer(commands: CommandSpec[]) {
  const named = namedVerbs(commands);
  return (current: string, argv: { _: (string | number)[] }, defaults: Defaults, done: Done): void => {
    defaults((_err, words) => {
      const verb = String(argv._[0] ?? "");
      if (!named.has(verb) || current.startsWith("-")) return done(words ?? []);
      let names: string[] = [];
      try {
        const paths = resolvePaths();
        // config.ini's env-path, read here without its checks: a shell completing must answer fast.
        paths.envPath = String(ini.parse(readTextOr(paths.configFile, "")).profiles?.env_path ?? "");
        names = profileNames(paths).filter((n) => n.startsWith(current));
      } catch {
        // A shell completing must never print an error: an unreadable config dir completes no names.
      }
      done([...(words ?? []), ...names]);
    });
  };
}

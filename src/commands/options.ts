/**
 * Options as data: each option more than one verb takes is declared here once, with its yargs shape and
 * the rule its value must meet (a zod schema, or a check that throws a UsageError naming the option).
 * A verb lists the entries it takes; `defineCommand` declares them and hands `run` the checked values.
 */
import type { Argv } from "yargs";
import { MAX_SECONDS } from "../core/cli-args.js";
import { UsageError } from "../errors.js";
import { number, positive, safeParse } from "../schema.js";
import { assertProfileName, NAME_RULE } from "../store/names.js";

/** One option or positional: how yargs declares it and how its parsed value is checked (exit 2). */
export interface OptionEntry {
  /** The key yargs puts the value under (camelCase). */
  key: string;
  declare(y: Argv<any>): Argv<any>;
  /** The value as `run` receives it; throws a UsageError naming the option and the rule. */
  check(value: unknown): unknown;
}

/** A positive number (of seconds): `--wait`, and `top --interval` within its own bounds. */
export const positiveSeconds = number().check(positive());

/** The `--wait S` option: a positive number of seconds up to a day, 30 by default; `describe` says what is waited for. */
export function wait(describe: string): OptionEntry {
  return {
    key: "wait",
    declare: (y) => y.option("wait", { type: "number", default: 30, describe }),
    check(value) {
      if (!safeParse(positiveSeconds, value).success || (value as number) > MAX_SECONDS) throw new UsageError(`--wait "${String(value)}" must be a positive number of seconds, at most ${MAX_SECONDS}`);
      return value;
    },
  };
}

/** The one-profile positional: `<name>` (required) or `[name]` (status: default all). */
export function name(describe = "Profile name"): OptionEntry {
  return {
    key: "name",
    declare: (y) => y.positional("name", { type: "string", describe }),
    check: (value) => (value === undefined ? undefined : assertProfileName(value)),
  };
}

/** `name` described with the rule a new name must meet (add, logs). */
export const NAME_WITH_RULE = `Profile name: ${NAME_RULE}`;

/** The many-profiles positional: `<names..>` or `[names..]`, each a valid name. */
export function names(describe = "Profile names"): OptionEntry {
  return {
    key: "names",
    declare: (y) => y.positional("names", { type: "string", array: true, describe }),
    check: (value) => (value === undefined ? undefined : (value as unknown[]).map((n) => assertProfileName(n))),
  };
}

/** A verb's `<names..>` check: the parser drops a lone "-", and `start -` must not succeed having done nothing. */
export function atLeastOneName(verb: string, given: readonly string[]): undefined {
  if (given.length === 0) throw new UsageError(`${verb} needs at least one profile name`, "run `profiles list` to see the profiles");
  return undefined;
}

/** `--restart` of the verbs that change a `.env` (set, unset). */
export const restartAfterChange: OptionEntry = {
  key: "restart",
  declare: (y) => y.option("restart", { type: "boolean", default: false, describe: "Restart the profile and wait until it is healthy" }),
  check: (value) => Boolean(value),
};

/** Options every verb accepts, declared once on the top-level parser. */
export const globalOptions = {
  json: { type: "boolean", default: false, describe: "Print the result as JSON on stdout" },
  verbose: { type: "boolean", default: false, describe: "Log details on stderr" },
  // nargs 1: an array option would otherwise take the words after it (`status --host vps hermes1`).
  host: { type: "string", array: true, nargs: 1, describe: "Run on [USER@]HOST[:PORT] over ssh (repeatable, a,b,c, or @group of --hosts-file)" },
  "hosts-file": { type: "string", describe: "Hosts to run on: one a line, or an Ansible-style INI inventory ([group] sections)" },
} as const;

/** `-f FILE`: the manifest of `plan` and `apply`. */
export const manifestFile: OptionEntry = {
  key: "file",
  declare: (y) => y.option("file", { alias: "f", type: "string", demandOption: true, describe: "The manifest (INI: [defaults], [profile NAME] sections)" }),
  check(value) {
    if (typeof value !== "string" || value === "") throw new UsageError("-f needs the manifest's path", "`profiles export > profiles.ini` writes one from what exists");
    return value;
  },
};

/** `--prune` of `plan` and `apply`: profiles the manifest does not name are removed. */
export const prune: OptionEntry = {
  key: "prune",
  declare: (y) => y.option("prune", { type: "boolean", default: false, describe: "Remove profiles the manifest does not name (their .env kept under removed/)" }),
  check: (value) => Boolean(value),
};

import { UsageError } from "../errors.js";
import { parseAssignment, type EnvEntries } from "../store/envfile.js";

/** Parse repeated `K=V` arguments into entries; the first bad one is a UsageError naming the rule. */
export function parseEnvArgs(args: readonly string[], flag: string): EnvEntries {
  const entries: EnvEntries = new Map();
  for (const arg of args) {
    const parsed = parseAssignment(arg);
    if ("problem" in parsed) throw new UsageError(`${flag}: ${parsed.problem}`, "values are KEY=VALUE, KEY of letters, digits and _");
    entries.set(parsed.key, parsed.value);
  }
  return entries;
}

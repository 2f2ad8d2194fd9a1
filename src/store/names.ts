import { UsageError } from "../errors.js";

/** The rule for profile names, as users read it in errors and --help. */
export const NAME_RULE = "1-32 characters of a-z, 0-9, - and _, starting with a letter or digit";
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Throw a UsageError (exit 2) unless `name` follows NAME_RULE. */
export function assertProfileName(name: unknown): string {
  if (typeof name === "string" && NAME_RE.test(name)) return name;
  const shown = typeof name === "string" ? JSON.stringify(name) : String(name);
  throw new UsageError(`invalid profile name ${shown}: a name is ${NAME_RULE}`);
}

/** Whether `name` is a valid profile name. */
export function isProfileName(name: string): boolean {
  return NAME_RE.test(name);
}

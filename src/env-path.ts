/**
 * Where each profile's `.env` lives (`init --env-path`): a pattern with `%i` for the profile's name and
 * `%h` for home, which systemd's EnvironmentFile= reads with the same two specifiers, so the template
 * takes the pattern as it is. "" is the default place, under the tool's own profiles/ directory.
 */
import path from "node:path";

/** The template's EnvironmentFile= for the default place: %E is the manager's XDG_CONFIG_HOME. */
export const DEFAULT_UNIT_ENV_PATH = "%E/agent-profiles/profiles/%i/.env";

/** `pattern` with `%h` and `%i` replaced. */
export function expandEnvPath(pattern: string, home: string, name: string): string {
  return pattern.replace(/%([hi])/g, (_, c: string) => (c === "h" ? home : name));
}

/**
 * Why `pattern` cannot be an env-path, or null. It must expand to an absolute, normal path (no `.`,
 * `..`, `//`) for any name, hold `%i` (else every profile shares one file) and no other specifier than
 * `%h` (the CLI expands only those two as systemd does), and nothing the unit file would read otherwise
 * (whitespace, quotes, backslashes: Environment= splits and unquotes them).
 */
export function envPathProblem(pattern: string): string | null {
  if (pattern === "") return null;
  if (!pattern.includes("%i")) return "must contain %i (the profile's name): without it every profile would share one .env";
  const other = /%([^hi]|$)/.exec(pattern);
  if (other) return `holds the specifier "%${other[1] ?? ""}": only %i (the name) and %h (home) are allowed`;
  if (/[\s"'\\\x00-\x1f\x7f]/.test(pattern)) return "must not hold whitespace, quotes, backslashes or control characters";
  const expanded = expandEnvPath(pattern, "/home/u", "name");
  if (!path.isAbsolute(expanded)) return "must be absolute once %h is expanded (start with / or %h/)";
  if (path.normalize(expanded) !== expanded || expanded.endsWith("/")) return "must be a normal path to a file (no ., .., // or trailing /)";
  return null;
}

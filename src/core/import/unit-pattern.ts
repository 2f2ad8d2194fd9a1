/**
 * `import --from-unit PATTERN`: the units written by hand that run profiles today, a template
 * (`hermes-gateway@%i.service`) or one unit per profile (`hermes-gateway-%i.service`), and where their
 * `.env` files may lie (the env-path's pattern, read back as a glob).
 */
import { existsSync, readdirSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { expandEnvPath } from "../../env-path.js";
import { envFile, envOutside, type Paths } from "../../paths.js";
import { isProfileName } from "../../store/names.js";
import { TEMPLATE_UNIT } from "../../systemd/types.js";

/** A checked `--from-unit` pattern. */
export interface UnitPattern {
  text: string;
  /** `NAME@%i.service`: instances of one template. */
  template: boolean;
  /** The glob the manager matches (`%i` as `*`). */
  glob: string;
  unit(name: string): string;
  /** The profile name a unit's name holds; null when it is no instance of the pattern or no profile name. */
  nameOf(unit: string): string | null;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `--from-unit`'s value, checked (UsageError, exit 2): one `%i`, a `.service`, nothing the manager would read as a glob. */
export function parseUnitPattern(text: string): UnitPattern {
  const problem = (why: string) => new UsageError(`--from-unit "${text}" ${why}`, "for example --from-unit 'hermes-gateway@%i.service' (a template) or 'hermes-gateway-%i.service' (one unit per profile)");
  if (text.split("%i").length !== 2) throw problem("must contain %i (the profile's name) exactly once");
  if (/%(?!i)/.test(text)) throw problem("may hold no other specifier than %i");
  if (/[*?[\]\\/\s]/.test(text)) throw problem("must be a unit name: no /, whitespace or glob characters");
  if (!/^[A-Za-z0-9:_.@-]*%i[A-Za-z0-9:_.@-]*\.service$/.test(text)) throw problem("must be a service unit's name, ending in .service");
  if (text.replace("%i", "") === TEMPLATE_UNIT) throw problem("names this tool's own units: those profiles are already ours");
  const re = new RegExp(`^${escape(text).replace("%i", "(.+)")}$`);
  return {
    text,
    template: text.includes("@%i.service"),
    glob: text.replace("%i", "*"),
    unit: (name) => text.replace("%i", name),
    nameOf(unit) {
      const name = re.exec(unit)?.[1];
      return name !== undefined && isProfileName(name) ? name : null;
    },
  };
}

/**
 * Names of the `.env` files the env-path's pattern finds on disk (for `%h/.hermes/profiles/%i/.env`:
 * each directory of `~/.hermes/profiles` that holds a `.env`). None without an env-path: the default place
 * holds this tool's own profiles only.
 */
export function envPathNames(paths: Paths): string[] {
  if (!envOutside(paths)) return [];
  const expanded = expandEnvPath(paths.envPath, paths.home, "%i");
  const parts = expanded.split("/");
  const at = parts.findIndex((p) => p.includes("%i"));
  const dir = parts.slice(0, at).join("/") || "/";
  const re = new RegExp(`^${escape(parts[at]!).replace(/%i/g, "(.+)")}$`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const names = entries.map((e) => re.exec(e)?.[1]).filter((n): n is string => n !== undefined && isProfileName(n));
  return names.filter((n) => existsSync(envFile(paths, n))).sort();
}

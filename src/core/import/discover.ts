/** Finding the profiles a hand-written unit runs, and reading each one's unit state and `.env`, changing nothing. */
import type { Config } from "../../config.js";
import { AppError, BadFileError, ExitCode, ProfileExistsError, UsageError } from "../../errors.js";
import { envFile, type Paths } from "../../paths.js";
import { decodeBytes } from "../../store/bytes.js";
import { readBytes, readBytesOrNull } from "../../store/generation-files.js";
import { parseEnv, type EnvEntries } from "../../store/envfile.js";
import { portOf, profileExists } from "../../store/profiles.js";
import type { SystemdManager } from "../../systemd/types.js";
import { wantedUnits } from "../../systemd/wanted-units.js";
import { isEnabledState } from "../enabled.js";
import { isUsablePort } from "../port-allocation.js";
import { envPathNames, type UnitPattern } from "./unit-pattern.js";

/** A profile as a hand-written unit runs it now: what import keeps, and what it puts back when the gate fails. */
export interface OldProfile {
  name: string;
  /** The hand-written unit, e.g. `hermes-gateway@liam.service`. */
  unit: string;
  activeState: string;
  subState: string;
  mainPid: number;
  /** Its unit file state before the import (`enabled`, `disabled`, ...). */
  unitFileState: string;
  /** The `.env` the old unit reads (its EnvironmentFile=, else the env-path's file). */
  source: string;
  /** Where this tool keeps the profile's `.env` (the env-path); the same file as `source` when they agree. */
  target: string;
  bytes: Buffer;
  entries: EnvEntries;
  port: number;
}

/** Whether the old unit was active (running or starting): import starts it again when its gate fails. */
export function wasActive(p: Pick<OldProfile, "activeState">): boolean {
  return p.activeState === "active" || p.activeState === "activating" || p.activeState === "reloading";
}

/** Whether the old unit was enabled: import enables it again when its gate fails. */
export function wasEnabled(p: Pick<OldProfile, "unitFileState">): boolean {
  return isEnabledState(p.unitFileState);
}

/** No unit of the pattern runs or names this profile, and no `.env` of it is on disk (exit 3). */
export class NothingToImportError extends AppError {
  override name = "NothingToImportError";
  constructor(message: string, hint: string) {
    super(message, ExitCode.notFound, hint);
  }
}

/**
 * The names the pattern's units and the env-path's files give: units loaded (running or enabled), unit
 * files, instances enabled in the user's unit directories (persistent or runtime) and not loaded yet, `.env` files.
 */
export async function discoverNames(sd: SystemdManager, paths: Paths, pattern: UnitPattern): Promise<string[]> {
  const loaded = (await sd.list([pattern.glob])).filter((u) => u.loadState === "loaded").map((u) => pattern.nameOf(u.name));
  const files = (await sd.listUnitFiles([pattern.glob])).map((f) => pattern.nameOf(f.path.slice(f.path.lastIndexOf("/") + 1)));
  const wanted = wantedUnits(paths).map((u) => pattern.nameOf(u));
  const names = [...loaded, ...files, ...wanted, ...envPathNames(paths)].filter((n): n is string => n !== null);
  return [...new Set(names)].sort();
}

/**
 * The old profile `name` as its unit runs it: the unit's state and EnvironmentFile= (from the manager),
 * the `.env`'s bytes and its port. Refused, naming the problem: no such unit (3), a unit reading several
 * files or a file of ours in the way (2), a `.env` missing, unreadable or without a usable port (12).
 */
export async function readOldProfile(sd: SystemdManager, paths: Paths, config: Config, pattern: UnitPattern, name: string): Promise<OldProfile> {
  const unit = pattern.unit(name);
  const p = await sd.properties(unit, ["LoadState", "ActiveState", "SubState", "EnvironmentFiles", "MainPID"]);
  const files = ((p.EnvironmentFiles as [string, boolean][] | undefined) ?? []).map(([file]) => file);
  const target = envFile(paths, name);
  const source = files[0] ?? target;
  const present = readBytesOrNull(source) !== null;
  const activeState = String(p.ActiveState);
  // Asked of the files on disk: a loaded unit's UnitFileState may predate a `systemctl --user disable`.
  const unitFileState = await sd.unitFileState(unit);
  // A template loads any instance asked for: one that runs, is enabled or has its .env is a profile.
  if (p.LoadState !== "loaded" || (!present && !wasActive({ activeState }) && !wasEnabled({ unitFileState }))) {
    throw new NothingToImportError(`no profile "${name}" to import: ${unit} ${p.LoadState === "loaded" ? `is not running or enabled, and ${source} does not exist` : "does not exist"}`, `run \`profiles import --from-unit '${pattern.text}' --dry-run\` to see what it finds`);
  }
  if (files.length > 1) throw new UsageError(`${unit} reads ${files.length} EnvironmentFile= files (${files.join(", ")}): import keeps one .env per profile`, "merge them into one, or `profiles add` the profile by hand");
  const bytes = readBytesOrNull(source);
  if (bytes === null) throw new BadFileError(source, `does not exist or cannot be read, and ${unit} reads it`, "create it, or import the other profiles by name");
  // Read strictly: a symlink there that leads nowhere is refused now, before any unit is touched.
  const existing = source === target ? null : readBytes(target);
  if (existing && !existing.equals(bytes)) {
    throw new UsageError(`${target} already exists and differs from ${source}, which ${unit} reads`, "move one of them aside, or point `profiles init --env-path` at the files the units read");
  }
  const { entries, problems } = parseEnv(decodeBytes(bytes));
  if (problems.length > 0) throw new BadFileError(source, `line ${problems[0]!.line}: ${problems[0]!.message}`, "fix the line by hand (systemd ignores it), then import again");
  const port = portOf(entries, config.portVar);
  if (port === null || !isUsablePort(port)) {
    throw new BadFileError(source, `has no usable ${config.portVar} (a port 1024-65535): ${config.portVar} is where this tool reads each profile's port`, `set ${config.portVar} in it, or name the gateway's port variable with \`profiles init --port-var NAME\``);
  }
  return { name, unit, activeState, subState: String(p.SubState), mainPid: Number(p.MainPID ?? 0), unitFileState, source, target, bytes, entries, port };
}

/** A profile found but not imported, and why. */
export interface Skipped {
  name: string;
  why: string;
}

/**
 * The profiles to import: the named ones (each must be an old profile and not one of ours: 3, 4), or every
 * one found, leaving out ours and names no unit of the pattern runs (a `.env` of another layout).
 */
export async function findOldProfiles(
  sd: SystemdManager, paths: Paths, config: Config, pattern: UnitPattern, named: readonly string[],
): Promise<{ found: OldProfile[]; skipped: Skipped[] }> {
  const skipped: Skipped[] = [];
  const names = named.length > 0 ? [...new Set(named)] : await discoverNames(sd, paths, pattern);
  const found: OldProfile[] = [];
  for (const name of names) {
    if (await profileExists(paths, name)) {
      if (named.length > 0) throw new ProfileExistsError(name);
      skipped.push({ name, why: "already a profile of ours" });
      continue;
    }
    try {
      found.push(await readOldProfile(sd, paths, config, pattern, name));
    } catch (err) {
      if (!(err instanceof NothingToImportError) || named.length > 0) throw err;
      skipped.push({ name, why: `its .env is there, but ${pattern.unit(name)} does not exist` });
    }
  }
  if (found.length === 0 && skipped.length === 0) {
    throw new NothingToImportError(`no unit matches ${pattern.glob} and no .env lies where the env-path says`, "check the pattern with `systemctl --user list-units --all 'PATTERN'`, and `profiles init --env-path`");
  }
  return { found, skipped };
}

/**
 * Whether a profile is enabled, as the manager answers GetUnitFileState from the unit files on disk (a
 * loaded unit's UnitFileState property may still say what it was before a `systemctl --user disable`):
 * asked each time before an action, and reused while the unit directories are unchanged where every
 * profile is shown or judged (unitFileStatesNow). A disabled profile is kept down: `start` refuses it,
 * the sweep leaves it.
 */
import { ProfileDisabledError } from "../errors.js";
import { unitName, type SystemdManager } from "../systemd/types.js";
import type { Context } from "./context.js";

/** Whether a GetUnitFileState answer means the unit starts at boot. */
export function isEnabledState(fileState: string): boolean {
  return fileState === "enabled" || fileState === "enabled-runtime";
}

/**
 * Disable `unit`: its persistent links, then its runtime ones (`enable --runtime`) where the manager still
 * says so, which DisableUnitFiles leaves unless asked; the unit file state left (a link outside the
 * user's directories, `systemctl --global enable`, keeps it enabled).
 */
export async function disableLinks(sd: SystemdManager, unit: string): Promise<string> {
  await sd.disable([unit]);
  const left = await sd.unitFileState(unit);
  if (!left.endsWith("-runtime")) return left;
  await sd.disable([unit], { runtime: true });
  return sd.unitFileState(unit);
}

/** The unit file state of a profile's instance now: `enabled`, `disabled`, ... */
export function unitFileStateNow(sd: SystemdManager, name: string): Promise<string> {
  return sd.unitFileState(unitName(name));
}

/**
 * unitFileStateNow of each of `names`, by name, from the manager's answers kept while the unit
 * directories are unchanged: for the verbs that show or judge every profile (`list`, `health`, `sweep`).
 * `fresh` asks the manager of each, for a caller that acts on the answer.
 */
export async function unitFileStatesNow(sd: SystemdManager, names: readonly string[], opts: { fresh?: boolean } = {}): Promise<Map<string, string>> {
  const states = opts.fresh ? await Promise.all(names.map((n) => unitFileStateNow(sd, n))) : await sd.unitFileStates(names.map(unitName));
  return new Map(names.map((n, i) => [n, states[i]!]));
}

/** Throws ProfileDisabledError (exit 2) for the first of `names` that `profiles disable` left disabled. */
export async function assertEnabled(ctx: Context, names: readonly string[]): Promise<void> {
  const sd = await ctx.systemd();
  for (const name of names) {
    if ((await unitFileStateNow(sd, name)) === "disabled") throw new ProfileDisabledError(name);
  }
}

/** Those of `names` that are not disabled, in their order. */
export async function notDisabled(ctx: Context, names: readonly string[]): Promise<string[]> {
  const states = await unitFileStatesNow(await ctx.systemd(), names);
  return names.filter((n) => states.get(n) !== "disabled");
}

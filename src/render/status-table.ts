import type { ProfileStatus } from "../core/inspect.js";
import { table } from "./table.js";

/** The columns `list` and `status` share: name, port, state, PID, restarts, enabled. */
export function statusTable(rows: ProfileStatus[]): string {
  return table(
    ["NAME", "PORT", "STATE", "PID", "RESTARTS", "ENABLED"],
    rows.map((r) => [r.name, r.port === null ? "-" : String(r.port), r.disabled ? "disabled" : `${r.activeState}/${r.subState}`, r.pid === null ? "-" : String(r.pid), String(r.restarts), r.enabled ? "yes" : "no"]),
  );
}

/** What `list`, `status` and `health` say when there is no profile. */
export const NO_PROFILES = "no profiles yet: run `profiles add NAME`";

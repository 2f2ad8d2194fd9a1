import type { ProfileStatus, ProfileStatusRunning } from "../core/inspect.js";
import { profileLabel, table, withHost } from "./table.js";

/** The columns `list` and `status` share: name, port, state, PID, restarts, enabled. */
export function statusTable(rows: (ProfileStatus & { host?: string })[]): string {
  return table(
    ...withHost(["NAME", "PORT", "STATE", "PID", "RESTARTS", "ENABLED"], rows, (r) => [r.name, r.port === null ? "-" : String(r.port), r.disabled ? "disabled" : `${r.activeState}/${r.subState}`, r.pid === null ? "-" : String(r.pid), String(r.restarts), r.enabled ? "yes" : "no"]),
  );
}

/** What `list`, `status` and `health` say when there is no profile. */
export const NO_PROFILES = "no profiles yet: run `profiles add NAME`";

/** The line under the table naming the profiles whose `.env` changed since their gateway started; none when there are none. */
export function pendingLines(rows: (ProfileStatusRunning & { host?: string })[]): string[] {
  const pending = rows.filter((r) => r.pendingRestart === true).map(profileLabel);
  if (pending.length === 0) return [];
  return [`pending restart (the .env changed since the gateway started): ${pending.join(", ")}; \`profiles roll --changed\` applies it`];
}

import { inspectProfiles, type ProfileStatus } from "../core/inspect.js";
import { table } from "../render/table.js";
import { listProfiles } from "../store/profiles.js";
import { defineCommand } from "./command.js";

/** The columns `list` and `status` share. */
export function statusTable(rows: ProfileStatus[]): string {
  return table(
    ["NAME", "PORT", "STATE", "PID", "RESTARTS", "ENABLED"],
    rows.map((r) => [r.name, r.port === null ? "-" : String(r.port), `${r.activeState}/${r.subState}`, r.pid === null ? "-" : String(r.pid), String(r.restarts), r.enabled ? "yes" : "no"]),
  );
}

export default defineCommand({
  command: ["list", "ls"],
  describe: "List profiles: port, state, PID, restarts, enabled",
  builder: (y) => y.example("$0 list --json", "for scripts"),
  async run(_args, ctx) {
    const config = await ctx.config();
    const rows = await inspectProfiles(ctx, config, await listProfiles(ctx.paths));
    return { data: rows, text: rows.length > 0 ? statusTable(rows) : "no profiles yet: run `profiles add NAME`" };
  },
});

import { inspectRunning, type ProfileStatusRunning } from "../core/inspect.js";
import { NO_PROFILES, pendingLines, statusTable } from "../render/status-table.js";
import { listProfiles } from "../store/profiles.js";
import { defineCommand } from "./command.js";

/** `list`'s text for people: the status table. */
export function renderList(rows: ProfileStatusRunning[]): string {
  return rows.length > 0 ? [statusTable(rows), ...pendingLines(rows)].join("\n") : NO_PROFILES;
}

export default defineCommand({
  command: ["list", "ls"],
  describe: "List profiles: port, state, PID, restarts, enabled",
  needs: { config: true, profiles: "none", manager: true },
  async run(_args, ctx) {
    const rows = await inspectRunning(ctx, await ctx.config(), await listProfiles(ctx.paths));
    return { data: rows, text: renderList(rows) };
  },
});

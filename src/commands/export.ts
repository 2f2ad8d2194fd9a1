import { exportManifest, type ExportResult } from "../core/manifest/export.js";
import { defineCommand } from "./command.js";

/** `export`'s text for people: the manifest itself. */
export function renderExport(r: ExportResult): string {
  return r.manifest.trimEnd();
}

export default defineCommand({
  command: "export",
  describe: "Print the manifest of the profiles as they are now (secret values left out)",
  needs: { config: true, profiles: "none", manager: true },
  async run(_args, ctx) {
    const data = await exportManifest(ctx, await ctx.config());
    return { data, text: renderExport(data) };
  },
});

import { parseGeneration } from "../core/cli-args.js";
import { rollbackProfile, type RollbackResult } from "../core/rollback.js";
import { deferStopSignals } from "../core/stop-signals.js";
import { corruptionText } from "../store/generations.js";
import { unmarkedLines } from "../render/known-good.js";
import { defineCommand } from "./command.js";
import { name, wait } from "./options.js";

/** `rollback`'s text for people: skipped corrupt generations, what was restored, and whether it restarted. */
export function renderRollback(r: RollbackResult): string {
  const what = r.generation === null ? `${r.name}: generation ${r.to} is already current` : `${r.name}: restored generation ${r.to} as generation ${r.generation}`;
  const then = r.restarted
    ? `restarted: healthy (pid ${r.pid}, ${r.elapsedMs} ms)`
    : r.generation === null
      ? "nothing written"
      : `takes effect when it next restarts: \`profiles restart ${r.name}\``;
  const skipped = (r.skipped ?? []).map((c) => `${r.name}: skipped generation ${c.number}, corrupt: ${corruptionText(c)}`);
  return [...skipped, `${what}; ${then}`, ...unmarkedLines(r.knownGood)].join("\n");
}

export default defineCommand<{ name: string; to?: string; restart: boolean; wait: number }, number | undefined>({
  command: "rollback <name>",
  describe: "Restore an earlier generation of a profile's .env (as a new generation), restart it, check health",
  options: [name(), wait("Seconds to wait for health")],
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .option("to", { type: "string", describe: "Generation to restore (default: the newest known-good one older than the current)" })
      .option("restart", { type: "boolean", default: true, describe: "Restart and wait until healthy (--no-restart: only restore the file)" }),
  parse: (args) => (args.to === undefined ? undefined : parseGeneration(args.to, args.name, "--to")),
  async run(args, ctx, to) {
    const r = await deferStopSignals(ctx.notice, (stopSignal) => rollbackProfile(ctx, args.name, { to, restart: args.restart, waitMs: args.wait * 1000, stopSignal }));
    return { data: r, text: renderRollback(r) };
  },
});

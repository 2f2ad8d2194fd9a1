import type { Context } from "../core/context.js";
import { withProfile } from "../core/transaction.js";
import { deferStopSignals, notStopped } from "../core/stop-signals.js";
import { ExitCode, NoReloadCommandError } from "../errors.js";
import { unitName } from "../systemd/types.js";
import { defineCommand } from "./command.js";
import { names, wait } from "./options.js";
import { eachProfile } from "./start.js";

/** One profile's outcome of `reload`. */
export interface ReloadOutcome {
  name: string;
  ok: boolean;
  /** The main PID before and after: a reload keeps the process. */
  pidBefore: number | null;
  pid: number | null;
  elapsedMs: number;
  error: string | null;
}

/** `reload`'s text for people: one line per profile, then what to run next. */
export function renderReload(outcomes: ReloadOutcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  const lines = outcomes.map((o) => (o.ok ? `reloaded ${o.name} (pid ${o.pid}${o.pid !== o.pidBefore ? `, was ${o.pidBefore}` : ", unchanged"}), healthy` : `FAILED ${o.error}`));
  if (failed.length > 0) lines.push(`next: profiles status ${failed.map((o) => o.name).join(" ")}`);
  return lines.join("\n");
}

async function reloadOne(ctx: Context, name: string, waitMs: number, stopSignal: AbortSignal): Promise<ReloadOutcome> {
  // Before its state is judged: a profile not begun is interrupted, not "not running".
  notStopped(stopSignal, name, `profiles reload ${name}`);
  const sd = await ctx.systemd();
  const before = await sd.state(unitName(name));
  const pidBefore = before.mainPid > 0 ? before.mainPid : null;
  if (before.activeState !== "active") {
    return { name, ok: false, pidBefore, pid: null, elapsedMs: 0, error: `${name}: not running (${before.activeState}/${before.subState}), so there is nothing to reload: run \`profiles start ${name}\`` };
  }
  const { up } = await withProfile(ctx, name, { command: `profiles reload ${name}`, stopSignal }, (tx) => tx.bringUp("reload", waitMs));
  return { name, ok: true, pidBefore, pid: up.state.mainPid || null, elapsedMs: up.elapsedMs, error: null };
}

export default defineCommand<{ names: string[]; wait: number }>({
  command: "reload <names..>",
  describe: "Ask running profiles to re-read their settings (the template's ExecReload=, e.g. SIGHUP) and wait until healthy",
  options: [wait("Seconds to wait for each profile to be healthy after its reload"), names()],
  needs: { config: true, profiles: "names", manager: true },
  async run(args, ctx) {
    const names = args.names;
    const sd = await ctx.systemd();
    // Refuse before touching any profile: without ExecReload= the manager would fail every reload job.
    for (const name of names) {
      const { CanReload } = await sd.properties(unitName(name), ["CanReload"]);
      if (CanReload !== true) throw new NoReloadCommandError(name);
    }
    const outcomes = await deferStopSignals(ctx.notice, (signal) =>
      eachProfile(names, (name) => reloadOne(ctx, name, args.wait * 1000, signal), (name, error): ReloadOutcome => ({ name, ok: false, pidBefore: null, pid: null, elapsedMs: 0, error })),
    );
    return { data: outcomes, text: renderReload(outcomes), exitCode: outcomes.some((o) => !o.ok) ? ExitCode.unhealthy : ExitCode.ok };
  },
});

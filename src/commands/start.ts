import { assertEnabled } from "../core/enabled.js";
import { gateTarget } from "../core/health-target.js";
import type { Context } from "../core/context.js";
import { assertPortFor } from "../core/port-change.js";
import { AppError, ExitCode, InterruptedError, SystemdError } from "../errors.js";
import { deferStopSignals, notStopped, stopWaitInterrupted, unlessAborted } from "../core/stop-signals.js";
import { withProfile, type KnownGoodMark } from "../core/transaction.js";
import { unmarkedLines } from "../render/known-good.js";
import { readEnv } from "../store/profiles.js";
import { unitName } from "../systemd/types.js";
import { defineCommand, type CommandSpec } from "./command.js";
import { atLeastOneName, names, wait } from "./options.js";

type Verb = "start" | "stop" | "restart";

/** One profile's outcome of `start`, `stop` or `restart`. */
export interface Outcome {
  name: string;
  ok: boolean;
  pid: number | null;
  elapsedMs: number;
  error: string | null;
  /** After a start: the generation marked known-good, or why none was. */
  knownGood?: KnownGoodMark;
}

// Like systemctl's verb table: the three verbs share one handler and differ in the job they queue.
const VERBS: Record<Verb, { describe: string; past: string }> = {
  start: { describe: "Start profiles (resetting a failed state) and wait until healthy", past: "started" },
  stop: { describe: "Stop profiles and wait until they have stopped", past: "stopped" },
  restart: { describe: "Restart profiles and wait until healthy again", past: "restarted" },
};

async function stopOne(ctx: Context, name: string, waitMs: number, stopSignal: AbortSignal): Promise<Outcome> {
  notStopped(stopSignal, name, `profiles stop ${name}`);
  const started = Date.now();
  const sd = await ctx.systemd();
  const job = await unlessAborted(sd.stop(unitName(name), { timeoutMs: waitMs }), stopSignal, (sig) => stopWaitInterrupted(sig, name));
  if (job !== "done") throw new SystemdError(`${name}: the stop job ended "${job}"`, undefined, `run \`profiles status ${name}\``);
  return { name, ok: true, pid: null, elapsedMs: Date.now() - started, error: null };
}

async function upOne(ctx: Context, verb: "start" | "restart", name: string, waitMs: number, stopSignal: AbortSignal): Promise<Outcome> {
  const { up, knownGood } = await withProfile(ctx, name, { command: `profiles ${verb} ${name}`, stopSignal }, (tx) => tx.bringUp(verb, waitMs));
  return { name, ok: true, pid: up.state.mainPid, elapsedMs: up.elapsedMs, error: null, knownGood };
}

/** The text of `start`, `stop`, `restart`, `enable` and `disable` for people: one line per profile, then what to run next. */
export function renderOutcomes(past: string, outcomes: Outcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  const lines = outcomes.flatMap((o) => (o.ok ? [`${past} ${o.name}${o.pid ? ` (pid ${o.pid})` : ""}`, ...unmarkedLines(o.knownGood).map((l) => `  ${l}`)] : [`FAILED ${o.error}`]));
  if (failed.length > 0) lines.push(`next: profiles status ${failed.map((o) => o.name).join(" ")}`);
  return lines.join("\n");
}

/** The text of `start`, `stop` and `restart` for people. */
export function renderStartStop(verb: Verb, outcomes: Outcome[]): string {
  return renderOutcomes(VERBS[verb].past, outcomes);
}

/**
 * `one` for each profile, one at a time in the order given: a profile's failure is its outcome (made by
 * `failed` of its error's text) and the rest still run; an unreachable manager, Ctrl-C or SIGTERM ends
 * them all.
 */
export async function eachProfile<O extends { name: string; ok: boolean }>(
  names: string[], one: (name: string) => Promise<O>, failed: (name: string, error: string) => O,
): Promise<O[]> {
  const outcomes: O[] = [];
  for (const [i, name] of names.entries()) {
    try {
      outcomes.push(await one(name));
    } catch (err) {
      // Ctrl-C or SIGTERM ends them all, saying what became of the ones before and which were not begun.
      if (err instanceof InterruptedError) throw err.after(outcomes.map((o) => `${o.name} ${o.ok ? "done" : "failed"}`), names.slice(i + 1));
      if (!(err instanceof AppError) || err.exitCode === ExitCode.managerUnreachable) throw err;
      const details = "details" in err && Array.isArray(err.details) ? (err.details as string[]).map((d) => `\n    ${d}`).join("") : "";
      outcomes.push(failed(name, err.message + details));
    }
  }
  return outcomes;
}

/** A failed `start`, `stop`, `restart`, `enable` or `disable` of one profile. */
export function failedOutcome(name: string, error: string): Outcome {
  return { name, ok: false, pid: null, elapsedMs: 0, error };
}

function verbCommand(verb: Verb): CommandSpec<{ names: string[]; wait: number }> {
  return defineCommand({
    command: `${verb} <names..>`,
    describe: VERBS[verb].describe,
    options: [wait("Seconds to wait for each profile"), names()],
    needs: { config: true, profiles: "names", manager: true },
    parse: (args) => atLeastOneName(verb, args.names),
    async run(args, ctx) {
      const names = args.names;
      // Files of ours are checked for all before acting on any: a bad config.ini or .env (one without a
      // usable port too) is exit 8/12 with nothing started, not a per-profile "unhealthy".
      if (verb !== "stop") {
        // A disabled profile is refused before any is started (exit 2): `profiles enable` is the way back.
        await assertEnabled(ctx, names);
        const config = await ctx.config();
        const ports = new Map<string, number>();
        for (const name of names) ports.set(name, gateTarget(ctx.paths, config, name, await readEnv(ctx.paths, name)).port);
        // And `add`'s port rules, for the same reason: on a port that another profile records or another
        // process holds, the gateway crash-loops on "address in use" while the other answers its probe.
        for (const [name, port] of ports) {
          await assertPortFor(ctx, config, name, port, `move ${name} to a free port (\`profiles set ${name} ${config.portVar}=N\`; \`profiles doctor\` names one), or stop what holds port ${port}`);
        }
      }
      const outcomes = await deferStopSignals(ctx.notice, (signal) =>
        eachProfile(names, (name) => (verb === "stop" ? stopOne(ctx, name, args.wait * 1000, signal) : upOne(ctx, verb, name, args.wait * 1000, signal)), failedOutcome),
      );
      const failed = outcomes.filter((o) => !o.ok);
      return {
        data: outcomes,
        text: renderStartStop(verb, outcomes),
        exitCode: failed.length > 0 ? (verb === "stop" ? ExitCode.systemd : ExitCode.unhealthy) : ExitCode.ok,
      };
    },
  });
}

export const start = verbCommand("start");
export const stop = verbCommand("stop");
export const restart = verbCommand("restart");

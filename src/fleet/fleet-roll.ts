/**
 * `profiles roll --host ...`: one roll plan across hosts. Every host must answer first (else nothing
 * starts). Then the canary hosts (`--canary-hosts N`, the first N given), then the others in batches of
 * `--max-parallel-hosts`; on each host its own `profiles roll`, health-gated with auto-revert. Once a
 * batch settles, a failed canary, or failed hosts above `--max-fail-percent` of all, halt the fleet roll:
 * hosts not reached stay untouched. Ctrl-C/SIGTERM halt it after the batch under way. The record on this
 * machine (fleet-record.ts) makes the same command resume it.
 */
import { randomUUID } from "node:crypto";
import type { CommandResult } from "../commands/command.js";
import { catchStopSignals } from "../core/stop-signals.js";
import { ExitCode, UsageError } from "../errors.js";
import { table } from "../render/table.js";
import { shellWord } from "../render/shell.js";
import { array, boolean, firstIssue, nullable, nullish, object, optional, string } from "../schema.js";
import { acquireLock } from "../store/lock.js";
import { ask, worstCode, type HostAnswer } from "./answer.js";
import { remoteArgv } from "./argv.js";
import { dropFleetRecord, fleetRecordFile, loadFleetRecord, saveFleetRecord, type FleetRecord, type HostState } from "./fleet-record.js";
import type { Host } from "./hosts.js";
import type { Fleet, FleetArgs } from "./run.js";

/** How hosts are paced: the fleet options of `roll`. */
export interface FleetPace {
  canaryHosts: number;
  maxParallelHosts: number;
  maxFailPercent: number;
}

/** The fleet options as parsed (strings: yargs leaves them as typed), checked (exit 2 naming the rule). */
export function parsePace(args: FleetArgs, hostCount: number): FleetPace {
  const text = (key: string): string | undefined => (args[key] === undefined ? undefined : String(args[key]));
  const whole = (key: string, flag: string, min: number, max: number, dflt: number): number => {
    const t = text(key);
    if (t === undefined) return dflt;
    const n = Number(t);
    if (t.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} "${t}" must be a whole number from ${min} to ${max}`);
    return n;
  };
  const maxFail = text("maxFailPercent");
  const percent = maxFail === undefined ? 0 : Number(maxFail);
  if (maxFail !== undefined && !(maxFail.trim() !== "" && percent >= 0 && percent <= 100)) throw new UsageError(`--max-fail-percent "${maxFail}" must be a number from 0 to 100`);
  return { canaryHosts: whole("canaryHosts", "--canary-hosts", 0, hostCount, 0), maxParallelHosts: whole("maxParallelHosts", "--max-parallel-hosts", 1, 1000, 1), maxFailPercent: percent };
}

/** The batches of host indexes: the canaries, then groups of maxParallelHosts. */
export function hostBatches(count: number, pace: FleetPace): number[][] {
  const idx = [...Array(count).keys()];
  const batches = pace.canaryHosts > 0 ? [idx.slice(0, pace.canaryHosts)] : [];
  for (let i = pace.canaryHosts; i < count; i += pace.maxParallelHosts) batches.push(idx.slice(i, i + pace.maxParallelHosts));
  return batches;
}

interface HostOutcome {
  host: string;
  state: HostState | "not-reached";
  exitCode: number | null;
  problem: string | null;
  /** The host's own roll summary (`profiles roll --json`). */
  roll: unknown;
}

// What this side reads of a host's `roll --json` or `apply --json`: checked, since it comes from another machine.
const outcomes = optional(array(object({ name: string(), outcome: string(), reason: nullish(string()) })));
const withProfiles = nullish(object({ profiles: outcomes }));
const hostSummary = nullable(object({
  rolls: optional(array(object({ profiles: outcomes }))),
  roll: withProfiles,
  resumed: withProfiles,
  added: optional(array(object({ name: string(), started: boolean() }))),
  removed: optional(array(string())),
}));
type Outcomes = { name: string; outcome: string; reason?: string | null }[];

/** The profiles a host's `roll --json` (its rolls) or `apply --json` (added, removed, its roll) names, with outcomes. */
function profilesOf(data: unknown): Outcomes {
  const parsed = hostSummary.safeParse(data ?? null);
  if (!parsed.success) return [{ name: "-", outcome: "unreadable", reason: `its answer is not a roll summary: ${firstIssue(parsed.error, "the whole")}` }];
  const d = parsed.data;
  if (!d) return [];
  return [
    ...(d.rolls ?? []).flatMap((r) => r.profiles ?? []),
    ...(d.resumed?.profiles ?? []),
    ...(d.removed ?? []).map((name) => ({ name, outcome: "removed" })),
    ...(d.added ?? []).map((a) => ({ name: a.name, outcome: a.started ? "added" : "added, not started" })),
    ...(d.roll?.profiles ?? []),
  ];
}

/** Each host's profiles and their outcomes, for people. */
function summaryText(outcomes: HostOutcome[], note: string | null, next: string | null): string {
  const rows: string[][] = [];
  for (const o of outcomes) {
    const profiles = profilesOf(o.roll);
    if (profiles.length === 0) rows.push([o.host, "-", o.state, o.problem ?? ""]);
    for (const p of profiles) rows.push([o.host, p.name, p.outcome, p.reason ?? ""]);
  }
  const lines = [table(["HOST", "PROFILE", "OUTCOME", "WHY"], rows)];
  if (note) lines.push(note);
  if (next) lines.push(`next: ${next}`);
  return lines.join("\n");
}

/** How long a resumed fleet roll waits for a roll its killed driver left running on a host. */
const LEFT_ROLLING_WAIT_MS = 300_000;

/**
 * One host's roll. `AP_FLEET_ROLL` names this host's attempt, so that a host whose roll had ended when its
 * driver was killed reports that roll instead of rolling again; one still running there (busy, exit 9) is
 * waited for.
 */
async function rollHost(f: Fleet, host: Host, args: string[], attempt: string, leftRolling: boolean, parts: HostParts | undefined): Promise<HostAnswer> {
  const deadline = Date.now() + LEFT_ROLLING_WAIT_MS;
  for (let tries = 0; ; tries++) {
    const env = { ...parts?.envFor(host), AP_FLEET_ROLL: attempt };
    const a = await ask(f.runner, host, args, { version: f.version, json: true, progress: f.json || tries > 0 ? undefined : f.tell, detached: true, env, input: parts?.inputFor(host) });
    if (!(leftRolling && a.code === ExitCode.busy && Date.now() < deadline)) return a;
    if (tries === 0) f.tell(`${host.name}: the roll this fleet roll started there still runs; waiting for it (at most ${LEFT_ROLLING_WAIT_MS / 1000} s)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function sameRoll(rec: FleetRecord, hosts: Host[], args: string[], digest: string | undefined): boolean {
  return JSON.stringify(rec.hosts.map((h) => h.name)) === JSON.stringify(hosts.map((h) => h.name)) && JSON.stringify(rec.args) === JSON.stringify(args) && rec.digest === digest;
}

/**
 * What each host is sent, where that is not the same for all: `apply -f FILE --host` sends each host its
 * part of the manifest on stdin, and checks each with `plan` before any host changes.
 */
export interface HostParts {
  /** The command line each host runs, `--json` in it. */
  args: string[];
  inputFor(host: Host): string;
  envFor(host: Host): Record<string, string>;
  /** The command every host must answer before any rolls, and the exit codes that count as an answer. */
  preflight: string[];
  preflightOk: number[];
  /** What makes a resumed record the same rollout (the manifest's sha256). */
  digest: string;
}

/** `roll --host` (and `apply --host`, whose `parts` differ by host): see the top of this file. */
export async function fleetRoll(f: Fleet, argv: readonly string[], hosts: Host[], given: FleetArgs, parts?: HostParts): Promise<CommandResult> {
  const args = parts?.args ?? remoteArgv(argv, true);
  const pace = parsePace(given, hosts.length);
  const again = `profiles ${argv.map(shellWord).join(" ")}`;
  if (given.dryRun === true) {
    const answers = await Promise.all(hosts.map((h) => ask(f.runner, h, args, { version: f.version, json: true, input: parts?.inputFor(h), env: parts?.envFor(h) })));
    for (const a of answers) if (a.problem) f.tell(a.problem);
    const outcomes = answers.map((a): HostOutcome => ({ host: a.host.name, state: "pending", exitCode: a.code, problem: a.problem, roll: a.data ?? null }));
    return { data: { outcome: "planned", batches: hostBatches(hosts.length, pace).map((b) => b.map((i) => hosts[i]!.name)), hosts: outcomes }, text: summaryText(outcomes, null, null), exitCode: worstCode(answers) };
  }
  const paths = f.ctx.paths;
  const lock = await acquireLock(paths.locksDir, "fleet-roll", again, 0);
  const stop = catchStopSignals(f.tell, { first: "stopping once the hosts under way have finished their rolls (run the same command to resume)", again: "still waiting for the hosts under way; SIGKILL leaves their rolls to finish on their own" });
  try {
    let rec = await loadFleetRecord(paths);
    if (rec && !sameRoll(rec, hosts, args, parts?.digest)) {
      throw new UsageError(
        `an unfinished fleet roll is recorded in ${fleetRecordFile(paths)} (hosts ${rec.hosts.map((h) => h.name).join(", ")}: profiles ${rec.args.join(" ")}), and this is another`,
        `finish it with the same hosts and arguments, or drop it: rm ${fleetRecordFile(paths)}`,
      );
    }
    // Every host must answer, at this version, before any host rolls.
    // Detached as the rolls are: a Ctrl-C is this process's to act on (no host starts after it), not ssh's.
    const answers = await Promise.all(hosts.map((h) => ask(f.runner, h, parts?.preflight ?? ["list", "--json"], { version: f.version, json: true, input: parts?.inputFor(h), env: parts?.envFor(h), detached: true })));
    const silent = answers.filter((a) => !(parts?.preflightOk ?? [0]).includes(a.code));
    if (silent.length > 0) {
      for (const a of silent) f.tell(a.problem ?? `${a.host.name}: \`profiles ${(parts?.preflight ?? ["list"]).join(" ")}\` exited ${a.code}: ${a.stderr.trim().split("\n")[0] ?? ""}`);
      const outcomes = answers.map((a): HostOutcome => ({ host: a.host.name, state: "not-reached", exitCode: a.code, problem: a.problem, roll: null }));
      return { data: { outcome: "not-started", hosts: outcomes }, text: summaryText(outcomes, `not started: ${silent.map((a) => a.host.name).join(", ")} did not answer; no host was changed`, null), exitCode: worstCode(silent) };
    }
    const resumed = rec !== null;
    rec ??= { id: randomUUID(), startedAt: new Date().toISOString(), pid: process.pid, args, ...(parts ? { digest: parts.digest } : {}), ...pace, hosts: hosts.map((h) => ({ name: h.name, state: "pending" as HostState, exitCode: 0, attempt: 0 })) };
    rec.pid = process.pid;
    if (resumed) f.tell(`resuming the fleet roll of ${rec.startedAt}: ${rec.hosts.map((h) => `${h.name} ${h.state}`).join(", ")}`);
    // Its batches were planned with the pacing it started with; other flags now would re-cut batches half done.
    if (resumed && (pace.canaryHosts !== rec.canaryHosts || pace.maxParallelHosts !== rec.maxParallelHosts || pace.maxFailPercent !== rec.maxFailPercent)) {
      f.tell(`it goes on with the pacing it started with (--canary-hosts ${rec.canaryHosts} --max-parallel-hosts ${rec.maxParallelHosts} --max-fail-percent ${rec.maxFailPercent}), not the one given now`);
    }
    await saveFleetRecord(paths, rec);
    const results = new Map<string, HostAnswer>();
    let halted: string | null = null;
    for (const [bi, batch] of hostBatches(hosts.length, rec).entries()) {
      const todo = batch.filter((i) => rec!.hosts[i]!.state !== "rolled");
      if (todo.length === 0) continue;
      // A Ctrl-C while the hosts were asked, or between batches: no host starts after it.
      if (stop.signal()) {
        halted = `${stop.signal()} (stopped before batch ${bi + 1})`;
        break;
      }
      // A host left `rolling` by a killed driver, or whose connection dropped mid-roll, may still be rolling
      // (or have finished) there: asked again with the same attempt.
      const leftRolling = new Set(todo.filter((i) => rec!.hosts[i]!.state === "rolling" || rec!.hosts[i]!.state === "unreachable"));
      for (const i of todo) {
        if (!leftRolling.has(i)) rec.hosts[i]!.attempt++;
        rec.hosts[i]!.state = "rolling";
      }
      await saveFleetRecord(paths, rec);
      if (!f.json) f.tell(`batch ${bi + 1}${bi === 0 && rec.canaryHosts > 0 ? " (canary)" : ""}: ${todo.map((i) => hosts[i]!.name).join(", ")}`);
      const settled = await Promise.all(todo.map((i) => rollHost(f, hosts[i]!, args, `${rec!.id}:${hosts[i]!.name}:${rec!.hosts[i]!.attempt}`, leftRolling.has(i), parts)));
      for (const [k, a] of settled.entries()) {
        const entry = rec.hosts[todo[k]!]!;
        // Unknown how far the host got (still busy with the roll its killed driver left, or its ssh ended by a
        // signal): asked again with the same attempt, never counted as a failure to roll again.
        const unknown = !a.ran || a.code >= 128 || (leftRolling.has(todo[k]!) && a.code === ExitCode.busy);
        entry.state = a.code === 0 ? "rolled" : unknown ? (a.ran ? "rolling" : "unreachable") : "failed";
        entry.exitCode = a.code;
        results.set(a.host.name, a);
        if (a.problem) f.tell(a.problem);
      }
      await saveFleetRecord(paths, rec);
      const failed = rec.hosts.filter((h) => h.state !== "rolled" && h.state !== "pending");
      const batchFailed = settled.filter((a) => a.code !== 0).map((a) => a.host.name);
      if (batchFailed.length > 0 && bi === 0 && rec.canaryHosts > 0) halted = `canary host ${batchFailed.join(", ")} failed`;
      else if ((failed.length * 100) / hosts.length > rec.maxFailPercent) halted = `${failed.map((h) => h.name).join(", ")} failed (${failed.length} of ${hosts.length} hosts, more than --max-fail-percent ${rec.maxFailPercent})`;
      else if (stop.signal()) halted = `${stop.signal()} (stopped between batches)`;
      if (halted) break;
    }
    const outcomes = rec.hosts.map((h): HostOutcome => {
      const a = results.get(h.name);
      return { host: h.name, state: h.state === "pending" ? "not-reached" : h.state, exitCode: a?.code ?? null, problem: a?.problem ?? null, roll: a?.data ?? null };
    });
    const done = rec.hosts.every((h) => h.state === "rolled");
    if (done) await dropFleetRecord(paths);
    // Failed hosts within --max-fail-percent: every host was tried, and the record stays for those.
    const outcome = done ? "completed" : halted ? "halted" : "completed-with-failures";
    const next = done ? null : `fix what failed, then \`${again}\` resumes: rolled hosts are skipped`;
    const tolerated = outcome === "completed-with-failures" ? `every host was tried; ${rec.hosts.filter((h) => h.state !== "rolled").map((h) => h.name).join(", ")} did not roll (within --max-fail-percent ${rec.maxFailPercent})` : null;
    return { data: { id: rec.id, resumed, outcome, hosts: outcomes }, text: summaryText(outcomes, halted ? `halted: ${halted}` : tolerated, next), exitCode: done ? ExitCode.ok : ExitCode.rollHalted };
  } finally {
    stop.remove();
    await lock.release();
  }
}

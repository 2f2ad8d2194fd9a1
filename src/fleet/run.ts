/**
 * A verb run on several hosts (`--host`, `--hosts-file`): each host runs its own `profiles` over ssh. Reads
 * ask every host at once and show one table with a HOST column (or one section per host); changes go host
 * by host in the order given and stop at the first host that fails; `roll` has a plan of its own
 * (fleet-roll.ts). The exit code is the highest of the hosts'.
 */
import type { CommandResult } from "../commands/command.js";
import type { Context } from "../core/context.js";
import { readAll, stdinValue } from "../core/env-args.js";
import { UsageError } from "../errors.js";
import { packageVersion } from "../package-files.js";
import { peopleText } from "../redact.js";
import { ask, worstCode, type HostAnswer } from "./answer.js";
import { remoteArgv } from "./argv.js";
import type { Host } from "./hosts.js";
import { fleetRoll } from "./fleet-roll.js";
import { exportHosts, manifestOnHosts } from "./manifest-verbs.js";
import { streamLogs } from "./logs.js";
import { topOnHosts } from "./top.js";
import { checkTableAnswers, hostRows, renderSections, TABLE_VERBS } from "./render.js";
import { sshRunner, type RemoteRunner } from "./ssh.js";

/** Verbs that only read (the sweep repairs each host on its own): every host is asked at once. */
const READS = new Set(["list", "status", "health", "sweep", "doctor", "history", "diff", "env", "ps", "logs"]);

/** What a fleet command needs: where the hosts are asked, and how to tell the user. */
export interface Fleet {
  runner: RemoteRunner;
  version: string;
  json: boolean;
  ctx: Context;
  /** A line on stderr, even with --json (a host that cannot answer is named there). */
  tell(line: string): void;
}

/** The fleet the CLI drives: the real ssh runner, at this package's version. */
export function realFleet(ctx: Context, json: boolean): Fleet {
  const version = packageVersion();
  return { runner: sshRunner(ctx.env, version), version, json, ctx, tell: (l) => void process.stderr.write(`${peopleText(l)}\n`) };
}

/** The parsed options the driving side reads (the command line itself goes to the hosts as typed). */
export type FleetArgs = Record<string, unknown>;

/** The flags a host cannot be given as they are: they name a file on this machine. */
function assertRemotable(args: FleetArgs): void {
  if (args.envFile !== undefined) {
    throw new UsageError("--env-file names a file on this machine, which the hosts cannot read", "pipe it instead: `profiles set NAME --stdin --host ... < FILE`");
  }
}

/** Every host at once. */
function askAll(f: Fleet, hosts: Host[], args: string[], input: string | undefined): Promise<HostAnswer[]> {
  return Promise.all(hosts.map((h) => ask(f.runner, h, args, { version: f.version, json: f.json || args.includes("--json"), input, progress: f.json ? undefined : f.tell })));
}

/** Host by host, stopping at the first that fails; the hosts not reached are returned apart. */
async function askInTurn(f: Fleet, verb: string, hosts: Host[], args: string[], input: string | undefined): Promise<{ answers: HostAnswer[]; notReached: Host[] }> {
  const answers: HostAnswer[] = [];
  for (const [i, h] of hosts.entries()) {
    // The verb only: its arguments may hold a secret (`set NAME KEY=VALUE`), which nothing here has learnt to mask.
    if (!f.json) f.tell(`${h.name}: profiles ${verb}`);
    const a = await ask(f.runner, h, args, { version: f.version, json: f.json, input, progress: f.json ? undefined : f.tell });
    answers.push(a);
    if (a.code !== 0) return { answers, notReached: hosts.slice(i + 1) };
  }
  return { answers, notReached: [] };
}

/**
 * What `set NAME KEY --stdin --host ...` sends each host: the value read here as a local `set` reads it
 * (typed without echo on a terminal, checked, kept from the output); the hosts' `set` reads it from a pipe.
 */
async function stdinInput(args: FleetArgs): Promise<string> {
  const key = Array.isArray(args.pairs) && args.pairs.length === 1 ? String(args.pairs[0]) : undefined;
  // The hosts' `set` takes off one trailing newline, as it does of any pipe: an empty value arrives as one.
  return key !== undefined ? `${await stdinValue(key, String(args.name))}\n` : readAll();
}

/** Run `verb` (its command line `argv`, parsed as `args`) on `hosts`. */
export async function runOnHosts(f: Fleet, verb: string, argv: readonly string[], hosts: Host[], args: FleetArgs = {}): Promise<CommandResult> {
  assertRemotable(args);
  if (verb === "roll") return fleetRoll(f, argv, hosts, args);
  if (verb === "plan" || verb === "apply") return manifestOnHosts(f, verb, argv, hosts, args);
  if (verb === "export") return exportHosts(f, argv, hosts);
  if (verb === "top") return topOnHosts(f, hosts, args);
  const input = args.stdin === true ? await stdinInput(args) : undefined;
  if (verb === "logs") return streamLogs(f, hosts, remoteArgv(argv, f.json));
  const table = TABLE_VERBS[verb];
  const remote = remoteArgv(argv, f.json || table !== undefined);
  // `limits NAME` alone shows them; with a flag it changes them.
  const read = READS.has(verb) || (verb === "limits" && !remoteArgv(argv, false).some((a) => a.startsWith("-")));
  const { answers, notReached } = read ? { answers: await askAll(f, hosts, remote, input), notReached: [] } : await askInTurn(f, verb, hosts, remote, input);
  if (table) checkTableAnswers(table, answers);
  for (const a of answers) if (a.problem) f.tell(a.problem);
  if (notReached.length > 0) f.tell(`stopped at ${answers.at(-1)!.host.name}: not run on ${notReached.map((h) => h.name).join(", ")}`);
  const exitCode = worstCode(answers);
  const data = [...hostRows(answers), ...notReached.map((h) => ({ host: h.name, notReached: true }))];
  if (f.json) return { data, text: "", exitCode };
  return { data, text: table ? table.render(answers) : renderSections(answers, notReached), exitCode, escaped: false };
}

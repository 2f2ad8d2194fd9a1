/** One host's answer to a command, and how a host that could not answer is told. */
import type { Host } from "./hosts.js";
import { NOT_FOUND, SSH_FAILED, type RemoteOptions, type RemoteResult, type RemoteRunner } from "./ssh.js";
import { ExitCode } from "../errors.js";

/** What a host said: its exit code as the CLI reports it, its `--json` data (when asked), text and stderr. */
export interface HostAnswer {
  host: Host;
  code: number;
  /** The host was reached and ran `profiles` (which may still have failed). */
  ran: boolean;
  /** Why the host could not run the command (unreachable, no `profiles`), or null. */
  problem: string | null;
  data?: unknown;
  stdout: string;
  stderr: string;
}

/** The last line of a command's output, for a one-line message. */
export function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() || "no message";
}

/** A remote result as an answer: ssh's 255 is exit 10 (unreachable), a missing `profiles` exit 17. */
export function answerOf(host: Host, r: RemoteResult, version: string, json: boolean): HostAnswer {
  if (r.code === SSH_FAILED) {
    return { host, code: ExitCode.managerUnreachable, ran: false, problem: `host ${host.name} did not answer: ssh: ${lastLine(r.stderr)}`, stdout: "", stderr: r.stderr };
  }
  if (r.code === NOT_FOUND) {
    return { host, code: ExitCode.hostUnusable, ran: false, problem: `host ${host.name} has no \`profiles\` on its PATH (${lastLine(r.stderr)}); install it there: npm install -g agent-profiles@${version}`, stdout: r.stdout, stderr: r.stderr };
  }
  const answer: HostAnswer = { host, code: r.code, ran: true, problem: null, stdout: r.stdout, stderr: r.stderr };
  if (json) {
    try {
      answer.data = JSON.parse(r.stdout);
    } catch {
      answer.problem = `host ${host.name} answered with no JSON (exit ${r.code}): ${lastLine(r.stdout || r.stderr)}`;
      if (answer.code === 0) answer.code = ExitCode.internal;
    }
  }
  return answer;
}

/** Ask one host; its stderr lines as they come go to `progress`, prefixed with the host's name. */
export async function ask(runner: RemoteRunner, host: Host, args: readonly string[], o: { version: string; json: boolean; progress?(line: string): void } & RemoteOptions): Promise<HostAnswer> {
  const { version, json, progress, ...opts } = o;
  const r = await runner.run(host, args, { ...opts, onStderrLine: progress ? (l) => progress(`${host.name}: ${l}`) : opts.onStderrLine });
  return answerOf(host, r, version, json);
}

// `plan`'s 16 says changes are pending, no failure: any other code outranks it.
const rank = (code: number): number => (code === ExitCode.changesPending ? 1 : code === 0 ? 0 : 100 + code);

/** The exit code of several hosts' answers: the highest, but 16 (changes pending) below every failure; 0 only when every host's was. */
export function worstCode(answers: readonly { code: number }[]): ExitCode {
  return answers.reduce<number>((worst, a) => (rank(a.code) > rank(worst) ? a.code : worst), 0) as ExitCode;
}

/** Several hosts' answers for people and for --json: a HOST column, a `host` field, or a section per host. */
import { renderHealth } from "../commands/health.js";
import { renderList } from "../commands/list.js";
import { renderStatus } from "../commands/status.js";
import { ExitCode } from "../errors.js";
import { array, boolean, firstIssue, looseObject, nullable, number, string, union, type ZodMiniType } from "../schema.js";
import type { HostAnswer } from "./answer.js";
import type { Host } from "./hosts.js";

/** A host's data as rows, each with its `host`: an array's items, or the one object. */
function rowsOf(a: HostAnswer): Record<string, unknown>[] {
  if (a.problem) return [{ host: a.host.name, error: { code: a.code, message: a.problem } }];
  const items = Array.isArray(a.data) ? a.data : a.data === undefined ? [] : [a.data];
  return items.map((d) => ({ host: a.host.name, ...(d !== null && typeof d === "object" ? d : { value: d }) }));
}

/** --json of several hosts: one flat list, every item with its `host` (a host that failed: its `error`). */
export function hostRows(answers: readonly HostAnswer[]): Record<string, unknown>[] {
  return answers.flatMap(rowsOf);
}

/** The rows of the hosts that answered without an error, for a table. */
function tableRows(answers: readonly HostAnswer[]): never[] {
  return answers.flatMap((a) => rowsOf(a).filter((r) => !("error" in r))) as never[];
}

/** The table of the hosts that answered; nothing when none did (their errors are on stderr, not "no profiles yet"). */
function hostTable(render: (rows: never[]) => string): (answers: readonly HostAnswer[]) => string {
  // Up to `unhealthy` (but for a usage error) the host ran the verb to its verdict: it has rows to show.
  return (answers) => (answers.some((a) => !a.problem && a.code !== ExitCode.usage && a.code <= ExitCode.unhealthy) ? render(tableRows(answers)) : "");
}

// What each table draws of a host's rows (the rest is the same version's, which the version check ensures):
// checked, since it comes from another machine.
const statusRow = looseObject({
  name: string(), port: nullable(number()), activeState: string(), subState: string(), pid: nullable(number()),
  restarts: number(), enabled: boolean(), disabled: boolean(),
});
const healthRow = looseObject({
  name: string(), port: nullable(number()), condition: string(), healthy: boolean(), disabled: boolean(), problems: array(string()),
  probe: nullable(looseObject({ kind: string(), reason: string(), latencyMs: number() })),
});

/** A verb whose --json rows make one table with a HOST column: what its rows must hold, and the table. */
interface TableVerb {
  answer: ZodMiniType;
  render(answers: readonly HostAnswer[]): string;
}

/** Verbs whose --json rows make one table with a HOST column. */
export const TABLE_VERBS: Record<string, TableVerb> = {
  list: { answer: array(statusRow), render: hostTable(renderList) },
  // `status NAME` answers with the one profile.
  status: { answer: union([array(statusRow), statusRow]), render: hostTable(renderStatus) },
  health: { answer: array(healthRow), render: hostTable(renderHealth) },
};

/** A host whose answer is not what the table draws is told as a problem (exit 70), not drawn as a row. */
export function checkTableAnswers(verb: TableVerb, answers: readonly HostAnswer[]): void {
  for (const a of answers) {
    if (a.problem || a.data === undefined || (a.data !== null && typeof a.data === "object" && "error" in a.data)) continue;
    const r = verb.answer.safeParse(a.data);
    if (r.success) continue;
    a.problem = `host ${a.host.name} answered with JSON that is not a list of profiles (${firstIssue(r.error, "the whole")})`;
    if (a.code === 0) a.code = ExitCode.internal;
  }
}

/** Any other verb: each host's own text under a line naming it. */
export function renderSections(answers: readonly HostAnswer[], notReached: readonly Host[]): string {
  const out: string[] = [];
  for (const a of answers) {
    out.push(`== ${a.host.name} (exit ${a.code}) ==`);
    if (a.problem) out.push(a.problem);
    else if (a.stdout.trim() !== "") out.push(a.stdout.replace(/\n$/, ""));
  }
  for (const h of notReached) out.push(`== ${h.name} (not run) ==`);
  return out.join("\n");
}

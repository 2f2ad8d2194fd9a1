/** Several hosts' answers for people and for --json: a HOST column, a `host` field, or a section per host. */
import { renderHealth } from "../commands/health.js";
import { renderList } from "../commands/list.js";
import { renderStatus } from "../commands/status.js";
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
  return (answers) => (answers.some((a) => !a.problem && a.code !== 2 && a.code < 8) ? render(tableRows(answers)) : "");
}

/** Verbs whose --json rows make one table with a HOST column. */
export const TABLE_VERBS: Record<string, (answers: readonly HostAnswer[]) => string> = {
  list: hostTable(renderList),
  status: hostTable(renderStatus),
  health: hostTable(renderHealth),
};

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

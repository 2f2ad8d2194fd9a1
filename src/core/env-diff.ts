/** What differs between two versions of a `.env`, with secret values never shown. */
import type { EnvEntries } from "../store/envfile.js";
import { escapeControls } from "../render/escape.js";
import { quoteValue } from "../store/envfile.js";
import { isSecretKey, MASK } from "../secrets.js";

/** One key that differs. `old`/`new` are null where absent, and always null for a secret key. */
export interface EnvDifference {
  key: string;
  kind: "added" | "removed" | "changed";
  secret: boolean;
  old: string | null;
  new: string | null;
}

/** Keys added, removed or changed from `before` to `after`, in file order (before's keys, then new ones). */
export function diffEntries(before: EnvEntries, after: EnvEntries): EnvDifference[] {
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const out: EnvDifference[] = [];
  for (const key of keys) {
    const o = before.get(key);
    const n = after.get(key);
    if (o === n) continue;
    const kind = o === undefined ? "added" : n === undefined ? "removed" : "changed";
    const secret = isSecretKey(key);
    out.push({ key, kind, secret, old: secret ? null : (o ?? null), new: secret ? null : (n ?? null) });
  }
  return out;
}

/** Lines for people: `+ K="v"`, `- K="v"`, `~ K: "old" → "new"`; a secret shows as changed, never its values. */
export function renderDifferences(diffs: EnvDifference[]): string[] {
  return diffs.map((d) => escapeControls(differenceLine(d)));
}

function differenceLine(d: EnvDifference): string {
  if (d.secret) return d.kind === "changed" ? `~ ${d.key}: changed (secret, values hidden)` : `${d.kind === "added" ? "+" : "-"} ${d.key}=${MASK} (secret)`;
  if (d.kind === "added") return `+ ${d.key}=${quoteValue(d.new ?? "")}`;
  if (d.kind === "removed") return `- ${d.key}=${quoteValue(d.old ?? "")}`;
  return `~ ${d.key}: ${quoteValue(d.old ?? "")} → ${quoteValue(d.new ?? "")}`;
}

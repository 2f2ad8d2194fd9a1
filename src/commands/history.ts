import { parseGeneration } from "../core/cli-args.js";
import { escapeControls } from "../render/escape.js";
import { table } from "../render/table.js";
import { corruptGenerations, corruptionText, history, type CorruptGeneration, type Generation } from "../store/generations.js";
import { withProfile } from "../core/transaction.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

/** A generation's time as people read it: `2025-01-02 13:04:05Z`. */
function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A profile's generations, newest first, and the one `--forget` dropped. */
export interface HistoryResult {
  name: string;
  current: number | null;
  editedByHand: boolean;
  generations: (Generation & { current: boolean; corrupt: boolean })[];
  forgot?: CorruptGeneration;
}

/** `history`'s text for people: a table of the generations, then what its marks mean. */
export function renderHistory(r: HistoryResult): string {
  const head = r.forgot ? [`forgot generation ${r.forgot.number}: ${corruptionText(r.forgot)}`] : [];
  if (r.generations.length === 0) return [...head, `${r.name}: no generations kept yet; the next change through \`profiles\` starts them`].join("\n");
  const mark = (g: HistoryResult["generations"][number]) => `${g.number}${g.current ? "*" : ""}${g.corrupt ? "!" : ""}`;
  const rows = r.generations.map((g) => [mark(g), shortTime(g.time), g.knownGood ? "yes" : "no", escapeControls(g.reason), escapeControls(g.changed.join(", ")) || "-"]);
  const notes = [
    r.editedByHand
      ? `the .env matches no generation: it was edited by hand after generation ${r.generations[0]!.number}; the next change keeps it as a generation`
      : `* the .env holds generation ${r.current}`,
  ];
  if (r.generations.some((g) => g.corrupt)) notes.push(`! its file no longer holds the bytes recorded for it (corrupt): never restored; \`profiles doctor\` says how to fix it`);
  return [...head, table(["GEN", "TIME", "GOOD", "REASON", "CHANGED"], rows), ...notes].join("\n");
}

export default defineCommand<{ name: string; forget?: string }, number | undefined>({
  command: "history <name>",
  describe: "Generations of a profile's .env, newest first: which is current, which are known-good, what each changed",
  options: [name()],
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .option("forget", { type: "string", describe: "Drop a corrupt generation (its file no longer matches its sha256) from the history" }),
  parse: (args) => (args.forget === undefined ? undefined : parseGeneration(args.forget, args.name, "--forget")),
  async run(args, ctx, forget) {
    const name = args.name;
    const forgot = forget === undefined ? null : await withProfile(ctx, name, { command: `profiles history ${name} --forget` }, (tx) => tx.forget(forget));
    const h = await history(ctx.paths, name);
    const corrupt = new Set((await corruptGenerations(ctx.paths, name)).map((c) => c.number));
    const newestFirst = [...h.generations].reverse().map((g) => ({ ...g, current: g.number === h.current, corrupt: corrupt.has(g.number) }));
    const editedByHand = h.current === null;
    const data: HistoryResult = { name, current: h.current, editedByHand, generations: newestFirst, ...(forgot ? { forgot } : {}) };
    return { data, text: renderHistory(data) };
  },
});

import { parseGeneration } from "../core/cli-args.js";
import { escapeControls } from "../render/escape.js";
import { table } from "../render/table.js";
import { corruptGenerations, corruptionText, history } from "../store/generations.js";
import { withProfile } from "../core/transaction.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists } from "../store/profiles.js";
import { defineCommand } from "./command.js";

/** A generation's time as people read it: `2025-01-02 13:04:05Z`. */
function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export default defineCommand<{ name: string; forget?: string }>({
  command: "history <name>",
  describe: "Generations of a profile's .env, newest first: which is current, which are known-good, what each changed",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .option("forget", { type: "string", describe: "Drop a corrupt generation (its file no longer matches its sha256) from the history" })
      .example("$0 history liam", "then `profiles diff liam GEN` or `profiles rollback liam --to GEN`")
      .example("$0 history liam --forget 3", "drop corrupt generation 3, as `profiles doctor` suggests when nothing holds its bytes"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    const forget = args.forget === undefined ? undefined : parseGeneration(args.forget, name, "--forget");
    await assertProfileExists(ctx.paths, name);
    const forgot = forget === undefined ? null : await withProfile(ctx, name, { command: `profiles history ${name} --forget` }, (tx) => tx.forget(forget));
    const h = await history(ctx.paths, name);
    const corrupt = new Set((await corruptGenerations(ctx.paths, name)).map((c) => c.number));
    const newestFirst = [...h.generations].reverse().map((g) => ({ ...g, current: g.number === h.current, corrupt: corrupt.has(g.number) }));
    const editedByHand = h.current === null;
    const data = { name, current: h.current, editedByHand, generations: newestFirst, ...(forgot ? { forgot } : {}) };
    const head = forgot ? [`forgot generation ${forgot.number}: ${corruptionText(forgot)}`] : [];
    if (newestFirst.length === 0) {
      return { data, text: [...head, `${name}: no generations kept yet; the next change through \`profiles\` starts them`].join("\n") };
    }
    const mark = (g: (typeof newestFirst)[number]) => `${g.number}${g.current ? "*" : ""}${g.corrupt ? "!" : ""}`;
    const rows = newestFirst.map((g) => [mark(g), shortTime(g.time), g.knownGood ? "yes" : "no", escapeControls(g.reason), escapeControls(g.changed.join(", ")) || "-"]);
    const notes = [
      editedByHand
        ? `the .env matches no generation: it was edited by hand after generation ${newestFirst[0]!.number}; the next change keeps it as a generation`
        : `* the .env holds generation ${h.current}`,
    ];
    if (corrupt.size > 0) notes.push(`! its file no longer holds the bytes recorded for it (corrupt): never restored; \`profiles doctor\` says how to fix it`);
    return { data, text: [...head, table(["GEN", "TIME", "GOOD", "REASON", "CHANGED"], rows), ...notes].join("\n") };
  },
});

import { table } from "../render/table.js";
import { history } from "../store/generations.js";
import { assertProfileName } from "../store/names.js";
import { assertProfileExists } from "../store/profiles.js";
import { defineCommand } from "./command.js";

/** A generation's time as people read it: `2025-01-02 13:04:05Z`. */
function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export default defineCommand<{ name: string }>({
  command: "history <name>",
  describe: "Generations of a profile's .env, newest first: which is current, which are known-good, what each changed",
  builder: (y) =>
    y
      .positional("name", { type: "string", describe: "Profile name" })
      .example("$0 history liam", "then `profiles diff liam GEN` or `profiles rollback liam --to GEN`"),
  async run(args, ctx) {
    const name = assertProfileName(args.name);
    await assertProfileExists(ctx.paths, name);
    const h = await history(ctx.paths, name);
    const newestFirst = [...h.generations].reverse().map((g) => ({ ...g, current: g.number === h.current }));
    const editedByHand = h.current === null;
    const data = { name, current: h.current, editedByHand, generations: newestFirst };
    if (newestFirst.length === 0) {
      return { data, text: `${name}: no generations kept yet; the next change through \`profiles\` starts them` };
    }
    const rows = newestFirst.map((g) => [`${g.number}${g.current ? "*" : ""}`, shortTime(g.time), g.knownGood ? "yes" : "no", g.reason, g.changed.join(", ") || "-"]);
    const notes = editedByHand
      ? `the .env matches no generation: it was edited by hand after generation ${newestFirst[0]!.number}; the next change keeps it as a generation`
      : `* the .env holds generation ${h.current}`;
    return { data, text: [table(["GEN", "TIME", "GOOD", "REASON", "CHANGED"], rows), notes].join("\n") };
  },
});

import { parseGeneration } from "../core/cli-args.js";
import { diffEntries, renderDifferences, type EnvDifference } from "../core/env-diff.js";
import { parseEnv, type EnvEntries } from "../store/envfile.js";
import { history, readGeneration } from "../store/generations.js";
import { readEnvText } from "../store/profiles.js";
import { defineCommand } from "./command.js";
import { name } from "./options.js";

/** One side of a diff: a kept generation, or the `.env` as it is on disk (generation null when edited by hand). */
interface Side {
  label: string;
  generation: number | null;
  file: boolean;
  entries: EnvEntries;
}

type SideData = ReturnType<typeof side>;

/** What `diff` compared and found; `from` is null when there was nothing older to compare with. */
export interface DiffResult {
  name: string;
  from: SideData | null;
  to: SideData;
  differences: EnvDifference[];
}

/** `diff`'s text for people: what was compared, then one line per added, removed or changed key. */
export function renderDiff(r: DiffResult): string {
  if (r.from === null) {
    const only = r.to.generation === null ? "no generation is kept" : `generation ${r.to.generation} is the only one kept`;
    return `${r.name}: ${only}; nothing older to compare with`;
  }
  return [`${r.name}: ${r.from.label} → ${r.to.label}`, ...(r.differences.length > 0 ? renderDifferences(r.differences) : ["no differences"])].join("\n");
}

export default defineCommand<{ name: string; from?: string; to?: string }, { from?: number; to?: number }>({
  command: "diff <name> [from] [to]",
  describe: "What changed between two generations of a profile's .env (secret values hidden)",
  options: [name()],
  // config.ini may name more secret keys (`[secrets] keys`): read before anything is masked.
  needs: { config: true, profiles: "name", manager: false },
  builder: (y) =>
    y
      .positional("from", { type: "string", describe: "Older generation (default: the one before the current .env)" })
      .positional("to", { type: "string", describe: "Newer generation (default: the .env as it is now)" }),
  parse: (args) => ({
    from: args.from === undefined ? undefined : parseGeneration(args.from, args.name),
    to: args.to === undefined ? undefined : parseGeneration(args.to, args.name),
  }),
  async run(args, ctx, { from, to }) {
    const name = args.name;
    const h = await history(ctx.paths, name);
    const kept = async (n: number): Promise<Side> => ({ label: `generation ${n}`, generation: n, file: false, entries: parseEnv(await readGeneration(ctx.paths, name, n)).entries });
    // Check both numbers before reading anything else, so that a bad one is reported first.
    const fromSide = from === undefined ? undefined : await kept(from);
    const toSide = to === undefined ? undefined : await kept(to);
    const onDisk: Side = {
      label: h.current === null ? "the .env (edited by hand)" : `the .env (generation ${h.current})`,
      generation: h.current,
      file: true,
      entries: parseEnv(readEnvText(ctx.paths, name)).entries,
    };

    let older = fromSide;
    if (older === undefined) {
      // The last change: the generation kept before the current one (the newest one when edited by hand).
      const at = h.current === null ? h.generations.length : h.generations.findIndex((g) => g.number === h.current);
      const previous = h.generations[at - 1];
      if (!previous) {
        const data: DiffResult = { name, from: null, to: side(onDisk), differences: [] };
        return { data, text: renderDiff(data) };
      }
      older = await kept(previous.number);
    }
    const newer = toSide ?? onDisk;
    const differences = diffEntries(older.entries, newer.entries);
    const data: DiffResult = { name, from: side(older), to: side(newer), differences };
    return { data, text: renderDiff(data) };
  },
});

function side(s: Side): { generation: number | null; file: boolean; label: string } {
  return { generation: s.generation, file: s.file, label: s.label };
}

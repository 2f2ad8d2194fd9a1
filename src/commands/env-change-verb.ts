/** `set` and `unset`: one verb in two spellings. Each names a change to a `.env`, kept as one generation, applied by an optional gated restart. */
import type { Argv, PositionalOptions } from "yargs";
import { changeEnv, type EnvEdit } from "../core/env-change.js";
import { deferStopSignals } from "../core/stop-signals.js";
import { renderEnvChange } from "../render/env-change.js";
import { defineCommand } from "./command.js";
import { name, restartAfterChange, wait } from "./options.js";

interface EnvChangeVerb<P> {
  verb: "set" | "unset";
  /** The positional after the name that lists the change (`pairs` or `keys`). */
  list: { key: string; options: PositionalOptions };
  describe: string;
  /** The listed words, checked (exit 2); never echoes a malformed one, which may be a secret. `args`: the verb's own options. */
  parse(name: string, words: string[], args: Record<string, unknown>): P | Promise<P>;
  /** The list may be empty (`set NAME --env-file FILE`): `parse` then decides. */
  optional?: true;
  /** Options of this spelling only (`set`'s --stdin and --env-file). */
  options?: (y: Argv<any>) => Argv<any>;
  change(parsed: P): EnvEdit;
}

export function envChangeVerb<P>(spec: EnvChangeVerb<P>) {
  return defineCommand<{ name: string; restart: boolean; wait: number } & Record<string, unknown>, P>({
    command: spec.optional ? `${spec.verb} <name> [${spec.list.key}..]` : `${spec.verb} <name> <${spec.list.key}..>`,
    describe: spec.describe,
    options: [name(), restartAfterChange, wait("Seconds to wait for health with --restart")],
    needs: { config: true, profiles: "name", manager: false },
    builder: (y) => (spec.options ?? ((z) => z))(y.positional(spec.list.key, spec.list.options)),
    parse: (args) => spec.parse(args.name, ((args[spec.list.key] as unknown[] | undefined) ?? []).map(String), args),
    async run(args, ctx, parsed) {
      const r = await deferStopSignals(ctx.notice, (stopSignal) =>
        changeEnv(ctx, args.name, spec.change(parsed), { verb: spec.verb, restart: args.restart, waitMs: args.wait * 1000, stopSignal }),
      );
      return { data: r, text: renderEnvChange(spec.verb, r) };
    },
  });
}

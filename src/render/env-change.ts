import type { EnvChangeResult } from "../core/env-change.js";
import { unmarkedLines } from "./known-good.js";

/** How `set` and `unset` report a change of a `.env`; never a value, only keys. */
export function renderEnvChange(verb: "set" | "unset", r: EnvChangeResult): string {
  const head = r.generation === null ? `${r.name}: no change (the .env already says that); nothing written` : `${verb} ${r.changed.join(", ")} on ${r.name} (generation ${r.generation})`;
  const tail = r.restarted
    ? `restarted: healthy (pid ${r.pid}, ${r.elapsedMs} ms)`
    : r.generation === null
      ? ""
      : `takes effect when it next restarts: \`profiles restart ${r.name}\` (or \`profiles roll ${r.name}\`)`;
  return [tail ? `${head}; ${tail}` : head, ...unmarkedLines(r.knownGood)].join("\n");
}

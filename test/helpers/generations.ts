import type { Paths } from "../../src/paths.js";
import { history, markKnownGood } from "../../src/store/generations.js";

/** Mark known-good the generation the `.env` holds now. */
export async function markCurrent(paths: Paths, name: string, keep?: number) {
  return markKnownGood(paths, name, (await history(paths, name)).fileSha256!, keep);
}

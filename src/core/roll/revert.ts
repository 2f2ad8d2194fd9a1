import { history, lastKnownGood, newestIntact, type CorruptGeneration, type Generation } from "../../store/generations.js";
import type { Paths } from "../../paths.js";

/**
 * What a failed profile can go back to: a known-good generation, or why there is none; `skipped` are the
 * newer known-good generations passed over because their files are corrupt.
 */
export type RevertTarget = ({ generation: Generation } | { none: string }) & { skipped: CorruptGeneration[] };

/**
 * The newest known-good generation of a profile whose file is intact. There is nothing to revert to when
 * it has none, or when its `.env` already holds the content of a known-good generation: the failure is
 * then not the file's, and putting another one back would undo a deliberate `profiles rollback`.
 */
export async function revertTarget(paths: Paths, name: string): Promise<RevertTarget> {
  const h = await history(paths, name);
  if (!lastKnownGood(h.generations)) return { none: "it has no known-good generation", skipped: [] };
  const same = h.generations.find((g) => g.knownGood && g.sha256 === h.fileSha256);
  if (same) return { none: `its .env already is known-good generation ${same.number}`, skipped: [] };
  const { generation, skipped } = await newestIntact(paths, name, h.generations.filter((g) => g.knownGood));
  if (!generation) return { none: "every known-good generation is corrupt (see `profiles doctor`)", skipped };
  return { generation, skipped };
}

/** Whether the `.env` already holds generation `n`'s bytes (a revert resumed after the file was written). */
export async function holdsGeneration(paths: Paths, name: string, n: number): Promise<boolean> {
  const h = await history(paths, name);
  const g = h.generations.find((x) => x.number === n);
  return g !== undefined && g.sha256 === h.fileSha256;
}

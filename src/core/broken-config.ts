/**
 * Broken-config awareness: a failing profile whose `.env` differs from its newest known-good generation
 * most likely fails because of that change. Every hint then points at the change and the way back
 * (`profiles diff`, `profiles rollback`), not at a restart that would fail the same way.
 */
import type { Paths } from "../paths.js";
import { history, lastKnownGood } from "../store/generations.js";

/** The change a failing profile runs with, against its newest known-good generation. */
export interface BrokenConfig {
  /** The generation the `.env` holds; null when it was edited by hand. */
  current: number | null;
  knownGood: number;
  /** What to run: diff, then rollback. */
  hint: string;
}

/** The change since known-good, or null when the `.env` is the known-good one, there is none, or the generations cannot be read. */
export async function brokenConfig(paths: Paths, name: string): Promise<BrokenConfig | null> {
  try {
    const h = await history(paths, name);
    const good = lastKnownGood(h.generations);
    if (!good || good.sha256 === h.fileSha256) return null;
    return { current: h.current, knownGood: good.number, hint: brokenHint(name, h.current, good.number) };
  } catch {
    // Unreadable generations are reported by their own checks (doctor, sweep notes); no hint then.
    return null;
  }
}

function brokenHint(name: string, current: number | null, good: number): string {
  const what = current === null ? "its .env (edited by hand)" : `its .env (generation ${current})`;
  return `${what} differs from known-good generation ${good}: see the change with \`profiles diff ${name} ${good}\`, put it back with \`profiles rollback ${name}\``;
}

/** The one-line form for a message: `(its .env ... differs from known-good generation N: ...)`. */
export function brokenNote(b: BrokenConfig | null): string {
  return b ? ` (${b.hint})` : "";
}

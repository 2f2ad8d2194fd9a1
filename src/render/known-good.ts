import type { KnownGoodMark } from "../core/transaction.js";

/** The line saying a healthy profile's generation was not marked known-good, and why; none when it was. */
export function unmarkedLines(mark: KnownGoodMark | null | undefined): string[] {
  return mark && mark.generation === null ? [`not marked known-good: ${mark.why}`] : [];
}

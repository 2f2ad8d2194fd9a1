/** config.ini's `[logs]` settings: when a profile's log file is rotated, and how many old ones are kept. */
import { coerce, int, maximum, minimum, NEVER, pipe, string, transform } from "./schema.js";

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
/** A size as `10M`, `512K`, `1G` or bytes; 0 for none. */
export const sizeSchema = pipe(
  string(),
  transform((text: string, ctx) => {
    const m = /^(\d{1,12})\s*([KMG]?)i?B?$/i.exec(text.trim());
    if (m) return Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!;
    ctx.issues.push({ code: "custom", message: "must be a size such as 10M, 512K or 1G (0 for never)", input: text });
    return NEVER;
  }),
);
/** A size the way `sizeSchema` reads it back, in the largest unit that divides it. */
export function formatSize(bytes: number): string {
  const unit = (["G", "M", "K"] as const).find((u) => bytes > 0 && bytes % SIZE_UNITS[u]! === 0);
  return unit ? `${bytes / SIZE_UNITS[unit]!}${unit}` : String(bytes);
}
export const logKeepSchema = coerce.number({ message: "must be a number of files" }).check(int("must be a whole number of files"), minimum(1, "must be at least 1"), maximum(1000, "must be at most 1000"));

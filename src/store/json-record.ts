/** A JSON record of ours read through its schema: a missing file is null, anything else wrong is exit 12 naming it. */
import { readFileSync } from "node:fs";
import { BadFileError } from "../errors.js";
import { firstIssue, type ZodMiniType, type output } from "../schema.js";

/** `file` parsed and checked by `schema`, or null when there is none; `hint` says what to do with a bad one. */
export async function readJsonRecord<S extends ZodMiniType>(file: string, schema: S, hint: string): Promise<output<S> | null> {
  let text: string;
  try {
    // Synchronous, as every small file the store reads (see readEnv in profiles.ts).
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new BadFileError(file, `cannot be read (${code})`, hint);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BadFileError(file, "is not valid JSON", hint);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new BadFileError(file, firstIssue(parsed.error), hint);
  return parsed.data as output<S>;
}

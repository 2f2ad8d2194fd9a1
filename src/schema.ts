/**
 * zod for the CLI's own files: zod/mini, whose named imports the bundle keeps only as far as used (the
 * full API cannot be tree-shaken and made the CLI's start-up ~40 ms slower), with the English messages
 * the full API gave for rules that name none: users see them in errors about their files.
 */
import { en } from "zod/locales";
import { config } from "zod/mini";

config(en());

export * from "zod/mini";

/** A failed parse's first issue as `path: message`, with `root` for the path of the whole value. */
export function firstIssue(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }, root = ""): string {
  const issue = error.issues[0];
  return `${issue?.path.join(".") || root}: ${issue?.message}`;
}

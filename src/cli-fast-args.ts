/**
 * The invocations that `cli-fast.cjs` runs without yargs, known word for word: `profiles list` and
 * `profiles ls`, with or without `--json`. Anything else (another flag, a second word, --help) goes to
 * the full CLI, so that the two can never parse the same words differently.
 */
export interface FastInvocation {
  verb: "list";
  json: boolean;
}

const VERBS: Readonly<Record<string, FastInvocation["verb"]>> = { list: "list", ls: "list" };

/** What `argv` (the words after the program) asks, when the fast bundle knows it; else null. */
export function fastInvocation(argv: readonly string[]): FastInvocation | null {
  const words = argv.filter((w) => w !== "--json");
  const flags = argv.length - words.length;
  if (words.length !== 1 || flags > 1) return null;
  const verb = Object.hasOwn(VERBS, words[0]!) ? VERBS[words[0]!] : undefined;
  return verb ? { verb, json: flags === 1 } : null;
}

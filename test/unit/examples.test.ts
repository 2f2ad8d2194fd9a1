import assert from "node:assert/strict";
import test from "node:test";
import { cliParser } from "../../src/cli-parser.js";
import { verbOf } from "../../src/commands/command.js";
import { EXAMPLES } from "../../src/commands/examples.js";
import { commands } from "../../src/commands/index.js";

/** An example's words as a shell would pass them: quotes joined, `<`/`>`/`>>` redirections left to the shell. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  const redirect = out.findIndex((w) => /^(<|>|>>)$/.test(w));
  return redirect === -1 ? out : out.slice(0, redirect);
}

test("EXAMPLES: every verb has examples, and every key is a verb", () => {
  const verbs = commands.map((c) => verbOf(c.command));
  assert.deepEqual(Object.keys(EXAMPLES).sort(), [...verbs].sort());
});

test("EXAMPLES: each line parses as its own verb with the options that verb declares (strict: no stale flag)", async () => {
  let checked = 0;
  for (const [verb, examples] of Object.entries(EXAMPLES)) {
    for (const [line] of examples) {
      const argv = words(line);
      assert.equal(argv.shift(), "$0", line);
      let ran: string | undefined;
      await cliParser(argv, async (spec) => {
        ran = verbOf(spec.command);
      }).parseAsync();
      assert.equal(ran, verb, `${line}: ran ${ran ?? "nothing"}`);
      checked++;
    }
  }
  assert.ok(checked >= 60, `only ${checked} examples`);
});

test("EXAMPLES: a line with a flag the verb does not declare is refused, so the check above can fail", async () => {
  // yargs fails synchronously inside parseAsync: wrapped, so that the throw becomes the rejection.
  await assert.rejects(async () => cliParser(["ps", "liam", "--no-such-flag"], async () => {}).parseAsync(), /Unknown argument/);
});

import assert from "node:assert/strict";
import test from "node:test";
import { cliParser } from "../../src/cli-parser.js";
import { verbOf } from "../../src/commands/command.js";
import { commands } from "../../src/commands/index.js";
import { UsageError } from "../../src/errors.js";
import { checkMemoryMax } from "../../src/store/limits.js";

/** What the real parser hands the verb for `argv`, and the verb's own checks (`run` is not reached: no context). */
async function parsed(argv: string[]): Promise<{ verb: string; args: Record<string, unknown> }> {
  let got: { verb: string; args: Record<string, unknown> } | undefined;
  await cliParser(argv, async (spec, args) => void (got = { verb: verbOf(spec.command), args })).parseAsync();
  assert.ok(got, `${argv.join(" ")}: no verb ran`);
  return got;
}

const refused = (re: RegExp) => (err: unknown) => err instanceof UsageError && re.test(err.message);

test("words after `--` are the verb's words, not dropped: names, pairs, a name alone", async () => {
  assert.deepEqual((await parsed(["roll", "--", "zed"])).args.names, ["zed"]);
  assert.deepEqual((await parsed(["set", "zed", "A1=1", "--", "B1=2"])).args.pairs, ["A1=1", "B1=2"]);
  assert.equal((await parsed(["status", "--", "alpha"])).args.name, "alpha");
  const unset = await parsed(["unset", "--", "zed", "A1", "B1"]);
  assert.deepEqual([unset.args.name, unset.args.keys], ["zed", ["A1", "B1"]]);
  assert.deepEqual((await parsed(["logs", "-n", "1", "--", "a", "b"])).args.names, ["a", "b"]);
});

test("a word after `--` that starts with - is refused (exit 2) for every verb, before anything runs", async () => {
  for (const verb of new Set(commands.map((c) => verbOf(c.command)))) {
    await assert.rejects(parsed([verb, "--", "-x"]), refused(/^"-x" after "--" is not a profile name/), verb);
  }
  // A long word is an argument that may be a secret: not echoed.
  await assert.rejects(parsed(["set", "zed", "--", "-TOKEN=s3cr3t-value"]), (err: unknown) => err instanceof UsageError && !err.message.includes("s3cr3t") && /argument 4, not shown/.test(err.message));
});

test("an option that takes a value: `--no-X` and a second `--X` are refused naming the option (exit 2)", async () => {
  for (const [argv, re] of [
    [["status", "--no-host"], /^--no-host: --host takes a value/],
    [["add", "x", "--no-env"], /^--no-env: --env takes a value/],
    [["sweep", "--no-textfile"], /^--no-textfile: --textfile takes a value/],
    [["logs", "--no-since"], /^--no-since: --since takes a value/],
    [["sweep", "--webhook", "http://a/", "--webhook", "http://b/"], /^--webhook is given 2 times; it takes one value/],
    [["logs", "--since", "1h", "--since", "2h"], /^--since is given 2 times/],
    [["sweep", "--textfile", "a", "--textfile", "b"], /^--textfile is given 2 times/],
    [["add", "x", "--env-file", "a", "--env-file", "b"], /^--env-file is given 2 times/],
    [["list", "--hosts-file", "a", "--hosts-file", "b"], /^--hosts-file is given 2 times/],
    [["start", "x", "--wait", "1", "--wait", "2"], /^--wait is given 2 times/],
  ] as const) {
    await assert.rejects(parsed([...argv]), refused(re), argv.join(" "));
  }
  // Numbers: yargs summed a second value of 1 and read `--no-X` as 0; an option right before `--` took the word after it.
  for (const [argv, re] of [
    [["roll", "--max-parallel", "1", "--max-parallel", "1", "--dry-run"], /^--max-parallel is given 2 times/],
    [["roll", "--maxParallel", "2", "--max-parallel", "3"], /^--max-parallel is given 2 times/],
    [["logs", "-n", "1", "--lines", "2"], /^--lines is given 2 times/],
    [["roll", "--no-canary"], /^--no-canary: --canary takes a value/],
    [["roll", "--no-progress-deadline"], /^--no-progress-deadline: --progress-deadline takes a value/],
    [["status", "--host", "--", "liam"], /^--host needs its value before "--"/],
    [["logs", "--since", "--", "liam"], /^--since needs its value before "--"/],
    [["limits", "x", "--no-restart-on-exit", "--", "1"], /^--no-restart-on-exit needs its value before "--"/],
  ] as const) {
    await assert.rejects(parsed([...argv]), refused(re), argv.join(" "));
  }
  // Not echoed: the word after `--` that would have been --env-file's value.
  await assert.rejects(parsed(["set", "liam", "--env-file", "--", "API_TOKEN=brandnewsecret12345"]), (err: unknown) => err instanceof UsageError && /^--env-file needs its value before "--"$/.test(err.message));
  // What stays: a repeatable option, a boolean's "no" form, a policy flag named no-...
  assert.deepEqual((await parsed(["status", "--host", "a", "--host", "b"])).args.host, ["a", "b"]);
  assert.equal((await parsed(["roll", "--no-auto-revert"])).args.autoRevert, false);
  assert.equal((await parsed(["limits", "x", "--no-restart-on-exit", "1"])).args.noRestartOnExit, "1");
});

test("--wait beyond a day is refused: node's timers fire at once past 2^31 ms, which read as 'not ready'", async () => {
  const start = commands.find((c) => verbOf(c.command) === "start")!;
  const { args } = await parsed(["start", "x", "--wait", "3000000"]);
  await assert.rejects(start.run(args as never, {} as never), refused(/^--wait "3000000" must be a positive number of seconds, at most 86400/));
});

test("--memory-max of 2^64 bytes or more is refused: systemd would ignore it", () => {
  assert.equal(checkMemoryMax("16777215T"), "16777215T");
  assert.throws(() => checkMemoryMax("16777216T"), refused(/below 16777216T/));
});

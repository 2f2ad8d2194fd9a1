// `profiles list [--json]`, the command people run most, without yargs or the other verbs: bundled as
// dist/src/cli-fast.cjs, a third the size of cli-main.cjs, and run by src/cli-loader.ts when
// `fastInvocation` knows the words. The verb itself runs as under yargs (cli-run.ts): the same
// prologue, work, redaction and exit codes; BENCHMARKS.md has what it saves.
import { fastInvocation } from "./cli-fast-args.js";
import { exitWith, runCli, runVerb } from "./cli-run.js";
import list from "./commands/list.js";

const argv = process.argv.slice(2);
exitWith(
  runCli(argv, async (run) => {
    const fast = fastInvocation(argv);
    // The loader asked the same function; this is only reached by running the bundle by hand.
    if (fast === null) throw new Error(`cli-fast.cjs runs only \`profiles list [--json]\`, not: ${argv.join(" ")}`);
    await runVerb(run, list, { json: fast.json, verbose: false });
  }),
);

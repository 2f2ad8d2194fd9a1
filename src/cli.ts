// The CLI's entry, bundled as dist/src/cli-main.cjs and run by src/cli-loader.ts (dist/src/cli.cjs).
import { hideBin } from "yargs/helpers";
import { parseAndRun } from "./cli-parser.js";
import { exitWith, openContext, runCli, runVerb } from "./cli-run.js";
import { verbOf, type GlobalArgs } from "./commands/command.js";
import { fleetHosts } from "./fleet/choose.js";

/** Parse argv with yargs and run the verb it names, here or on the hosts of --host; returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runCli(argv, async (run) => {
    await parseAndRun(argv, async (spec, args) => {
      const ctx = openContext(run, args as unknown as GlobalArgs);
      const hosts = fleetHosts(args);
      if (!hosts) return runVerb(run, spec, args as GlobalArgs & Record<string, unknown>);
      const { realFleet, runOnHosts } = await import("./fleet/run.js");
      run.result = await runOnHosts(realFleet(ctx, run.json), verbOf(spec.command), argv, hosts, args);
    }, (output) => void (run.parserOutput = output));
  });
}

exitWith(main(hideBin(process.argv)));

/** The command line a host is given: the user's own, less the options that choose and pace the hosts. */

/** Options the driving side consumes, as yargs also takes them (camelCase); each takes a value (`--host a` or `--host=a`). */
export const FLEET_FLAGS = ["--host", "--hosts-file", "--hostsFile", "--canary-hosts", "--canaryHosts", "--max-parallel-hosts", "--maxParallelHosts", "--max-fail-percent", "--maxFailPercent"] as const;

/** `argv` without the fleet options, and with or without `--json` as asked. */
export function remoteArgv(argv: readonly string[], json: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if ((FLEET_FLAGS as readonly string[]).includes(a)) {
      i++;
      continue;
    }
    if (FLEET_FLAGS.some((f) => a.startsWith(`${f}=`))) continue;
    if (a === "--json" || a === "--no-json" || a.startsWith("--json=")) {
      // `--json false`: the value is the flag's, not a positional for the host.
      if (a === "--json" && (argv[i + 1] === "true" || argv[i + 1] === "false")) i++;
      continue;
    }
    out.push(a);
  }
  // First, where no `--` can come before it.
  return json ? ["--json", ...out] : out;
}

import { DEFAULT_LINES } from "../core/logs/source.js";

/**
 * Every verb's `--help` examples, in one table as a man page's EXAMPLES section: the command line, then
 * what it does. A unit test parses each line against its verb's declared options, so none goes stale.
 */
export const EXAMPLES: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  init: [
    ["$0 init", "use the bundled reference gateway"],
    ['$0 init --exec "hermes --profile %i gateway run" --port-var API_SERVER_PORT --host-var API_SERVER_HOST', "use your own gateway"],
    ['$0 init --exec "astromesh serve --port ${PORT}" --service-type notify --reload-signal HUP --stop-timeout 40', "a notify daemon that takes its port as a flag"],
    ["$0 init --env-path '%h/.hermes/profiles/%i/.env' --port-var API_SERVER_PORT", "manage the .env files a Hermes setup already reads (then `profiles import`)"],
  ],
  add: [
    ["$0 add liam --port 8642", "a profile on a chosen port"],
    ["$0 add ops --env LOG_LEVEL=debug", "a port from the range, one extra setting"],
  ],
  list: [
    ["$0 list --json", "for scripts"],
    ["$0 list --host vps,mini", "two hosts over ssh, one table with a HOST column"],
  ],
  health: [
    ["$0 health", "every profile"],
    ["$0 health liam ops --json", "two profiles, for scripts"],
    ["$0 health --hosts-file hosts.ini --host @home", "every host of the inventory's [home] group"],
  ],
  status: [
    ["$0 status liam", "the unit's state, PID, restarts, health and the .env's generation"],
  ],
  sweep: [
    ["$0 sweep", "look, change nothing but the sweep's own records"],
    ["$0 sweep --restart-unhealthy --max-restarts 2", "what the nightly timer runs, with a smaller budget"],
    ["$0 sweep --textfile /var/lib/node_exporter/textfile/agent_profiles.prom", "metrics for node_exporter"],
    ["$0 sweep --print-cron >> my.crontab", "for hosts that prefer cron to the timer"],
  ],
  start: [
    ["$0 start liam ops", "start two profiles, each waiting until healthy (exit 7 if one is not)"],
  ],
  stop: [
    ["$0 stop liam", "stop it until the next start (it still starts at boot; `disable` keeps it down)"],
  ],
  restart: [
    ["$0 restart liam --wait 60", "restart it and wait up to 60 s for the health probe"],
  ],
  enable: [
    ["$0 enable harry", "undo `profiles disable harry`: enable it and start it through the health gate"],
  ],
  disable: [
    ["$0 disable harry", "keep harry down tonight and after a reboot"],
  ],
  reload: [
    ["$0 reload liam", "after `profiles set liam GREETING=hi`: apply it without a restart"],
    ["$0 reload liam ops --json", "several at once, the result as JSON"],
  ],
  limits: [
    ["$0 limits liam --memory-max 512M --cpu-quota 50%", "cap a gateway that leaks memory"],
    ["$0 limits liam", "show the limits the manager applies now"],
    ["$0 limits liam --start-limit-burst 3 --no-restart-on-exit 1,78", "a gateway that exits 1 on a refused config: stop after 3 starts, or at once on 1"],
    ["$0 limits liam --reset", "back to the template's defaults"],
  ],
  ps: [
    ["$0 ps liam", "the gateway's processes, its main PID marked"],
    ["$0 ps liam --json", "the same as JSON"],
  ],
  top: [
    ["$0 top", "full screen; keys: q quit, / filter, n m c r p s u sort"],
    ["$0 top --once --sort memory", "one table, largest memory first"],
    ["$0 top --once --json", "the rows as JSON"],
  ],
  env: [
    ["$0 env liam", "KEY=\"value\" lines, in systemd's EnvironmentFile= syntax"],
    ["$0 env liam --json --show-secrets", "every value, for scripts"],
  ],
  set: [
    ["$0 set liam LOG_LEVEL=debug", "takes effect at the next restart"],
    ["$0 set liam API_KEY=s3cret --restart", "restart now; exit 7 if it is not healthy"],
    ["$0 set liam PORT=8650 --restart", "move to another port (checked like add)"],
    ["$0 set liam API_KEY --stdin < key.txt", "a secret that never appears on a command line"],
    ["$0 set liam --env-file secrets.env", "every key of a file"],
  ],
  unset: [
    ["$0 unset liam LOG_LEVEL", "takes effect at the next restart"],
    ["$0 unset liam HOST API_KEY --restart", "restart now; exit 7 if it is not healthy"],
  ],
  history: [
    ["$0 history liam", "then `profiles diff liam GEN` or `profiles rollback liam --to GEN`"],
    ["$0 history liam --forget 3", "drop corrupt generation 3, as `profiles doctor` suggests when nothing holds its bytes"],
  ],
  diff: [
    ["$0 diff liam", "the last change: the .env against the generation before it"],
    ["$0 diff liam 3", "generation 3 against the .env now"],
    ["$0 diff liam 3 5", "generation 3 against generation 5"],
  ],
  rollback: [
    ["$0 rollback liam", "back to the last generation liam was healthy with"],
    ["$0 rollback liam --to 3", "restore generation 3 (see `profiles history liam`)"],
    ["$0 rollback liam --no-restart", "only put the file back"],
  ],
  roll: [
    ["$0 roll", "every profile, one at a time"],
    ["$0 roll --canary 1 --max-parallel 3", "one canary, then three at a time"],
    ["$0 roll liam ops --dry-run", "show the plan for two profiles"],
    ["$0 roll --changed", "only the profiles with a change waiting for a restart"],
    ["$0 roll --reload", "apply .env changes a gateway can take without a restart (init --reload-signal HUP)"],
    ["$0 roll --host vps,mini,nas --canary-hosts 1 --max-parallel-hosts 2", "across hosts: vps first, then two hosts at a time; the same command resumes it"],
  ],
  plan: [
    ["$0 plan -f profiles.ini", "exit 0 when every profile is as the file says, 16 when applying would change something"],
    ["$0 plan -f profiles.ini --prune --json", "also the profiles apply --prune would remove, as JSON"],
  ],
  apply: [
    ["$0 apply -f profiles.ini", "show the plan, ask, then converge"],
    ["$0 apply -f profiles.ini --prune --yes --canary 1 --max-parallel 2", "also remove profiles the file does not name; no question"],
  ],
  export: [
    ["$0 export > profiles.ini", "then `profiles plan -f profiles.ini` has nothing to do"],
    ["$0 export --json", "the profiles as data, with the manifest text"],
  ],
  import: [
    ["$0 import --from-unit 'hermes-gateway@%i.service' --dry-run", "what would be taken over from the Hermes guide's template"],
    ["$0 import --from-unit 'hermes-gateway-%i.service' liam", "take over hermes-agent's unit of profile liam"],
  ],
  remove: [
    ["$0 remove liam", "stop, disable and delete it; its .env and log files are kept"],
    ["$0 remove liam --purge", "the .env and log files deleted too"],
  ],
  logs: [
    ["$0 logs liam", `the last ${DEFAULT_LINES} lines`],
    ["$0 logs liam -f -n 5", "the last 5 lines, then new ones as they come"],
    ["$0 logs liam --json", "the lines as a JSON array; with -f, one JSON object per line"],
    ["$0 logs", "every profile's lines in one stream, each with its name (-f follows them all)"],
    ["$0 logs liam ops --since 1h --json", "two profiles' lines of the last hour, one JSON object per line"],
    ["$0 logs --rotate", "copy each profile's log file to NAME.log.1 and empty it"],
  ],
  doctor: [
    ["$0 doctor", "one line per check, then the commands that fix each problem"],
    ["$0 doctor --json", "the checks and fixes as JSON, for scripts"],
  ],
  verify: [
    ["$0 verify", "the gateway the template runs"],
    ['$0 verify --exec "hermes --profile %i gateway run"', "a new gateway (or version) before `profiles init --exec` points every profile at it"],
  ],
};

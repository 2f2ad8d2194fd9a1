/** Running the sweep on a schedule: the systemd timer's ExecStart, or an equivalent crontab line. */
import { createHash } from "node:crypto";
import path from "node:path";
import { packageRoot } from "../../package-files.js";
import { shellWord } from "../../render/shell.js";
import { quoteExecArg } from "../../systemd/unit-file.js";
import { runtimeDirOf } from "../../xdg.js";

/** The sweep's units, as `units/` ships them and `profiles init` installs them. */
export const SWEEP_SERVICE = "agent-profiles-sweep.service";
export const SWEEP_TIMER = "agent-profiles-sweep.timer";

/** What the scheduled sweep runs: restart what is unhealthy; textfile and webhook come from config.ini. */
export const SCHEDULED_ARGS = ["sweep", "--restart-unhealthy"] as const;

/** The shipped unit file `name` under units/. */
export function sweepUnitSource(name: string): string {
  return path.join(packageRoot(), "units", name);
}

/** This CLI's own script, absolute (dist/src/cli.cjs, the bin), wherever npm installed it. */
export function cliScript(): string {
  return path.join(packageRoot(), "dist", "src", "cli.cjs");
}

/** ExecStart= of the sweep service: this node binary and this CLI, so PATH does not matter. */
export function sweepExecStart(): string {
  return [process.execPath, cliScript(), ...SCHEDULED_ARGS].map(quoteExecArg).join(" ");
}

// cron hands the command to /bin/sh, and turns a bare % into a newline.
function cronWord(word: string): string {
  return shellWord(word).replace(/%/g, "\\%");
}

/**
 * A crontab line equivalent to the timer: nightly in the 03:00 hour at a minute derived from the user
 * name (so that users of one host do not all run at once), with the variables cron does not set but the
 * CLI needs to find the user bus and the same config and state directories.
 */
export function cronLine(env: NodeJS.ProcessEnv, uid: number, extraArgs: string[] = []): string {
  const user = env.USER || env.LOGNAME || String(uid);
  const minute = createHash("sha256").update(user).digest()[0]! % 60;
  const runtime = runtimeDirOf(env, uid);
  const vars: [string, string][] = [
    ["XDG_RUNTIME_DIR", runtime],
    ["DBUS_SESSION_BUS_ADDRESS", env.DBUS_SESSION_BUS_ADDRESS || `unix:path=${runtime}/bus`],
  ];
  for (const key of ["XDG_CONFIG_HOME", "XDG_STATE_HOME"] as const) {
    const v = env[key];
    if (v && path.isAbsolute(v)) vars.push([key, v]);
  }
  const command = [...vars.map(([k, v]) => `${k}=${cronWord(v)}`), ...[process.execPath, cliScript(), ...SCHEDULED_ARGS, ...extraArgs].map(cronWord)];
  // stdout (the table) is in sweeps.jsonl anyway; stderr stays, so that cron mails what went wrong.
  return `${minute} 3 * * * ${command.join(" ")} >/dev/null`;
}

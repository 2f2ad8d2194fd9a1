import type { Argv } from "yargs";
import type { Config } from "../config.js";
import { initHost, type InitResult } from "../core/init-host.js";
import { declarePolicyFlags, POLICY_FLAGS, policyFromFlags, type PolicyKey } from "../core/restart-policy.js";
import { SWEEP_TIMER } from "../core/sweep/schedule.js";
import { flagArg, settingFromFlag, SETTINGS } from "../settings.js";
import { defineCommand } from "./command.js";

/** What the flags ask: settings, and changes of the crash-loop policy (a value, or null for `""`: the template's). */
interface InitAsked {
  settings: Partial<Config>;
  policy: [PolicyKey, string | null][];
}

/** The settings the flags give, each checked by its setting's rule (exit 2) before anything is read; "" clears one where allowed. */
async function settingsFromFlags(args: Record<string, unknown>): Promise<Partial<Config>> {
  const next: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const raw = s.flag ? args[flagArg(s.flag.name)] : undefined;
    if (raw !== undefined) next[s.key] = await settingFromFlag(s, raw);
  }
  return next as Partial<Config>;
}

/** `init`'s text for people: what was written, the gateway's settings, lingering, the sweep, the next step. */
export function renderInit(r: InitResult): string {
  return [
    `${r.created ? "wrote" : "updated"} ${r.configFile}`,
    `installed ${r.unitFile}${r.templateChanged ? "" : " (unchanged)"}`,
    `  ExecStart=${r.execStart}`,
    `  Type=${r.serviceType}, TimeoutStopSec=${r.stopTimeoutSec}, ${r.reloadSignal ? `reload by SIG${r.reloadSignal}` : "no reload command"}`,
    ...(r.secretKeys.length > 0 ? [`secret keys beyond the built-in rule: ${r.secretKeys.join(", ")}`] : []),
    ...(r.uniqueKeys.length > 0 ? [`no two profiles may share a value of: ${r.uniqueKeys.join(", ")}`] : []),
    `each profile's .env: ${r.envPath}`,
    `ports ${r.portRange} in ${r.portVar} (host in ${r.hostVar}), health ${r.probe.kind === "tcp" ? "by TCP connect" : `on ${r.healthPath}`}${r.logDir ? `, logs in ${r.logDir}` : ", output to the journal"}`,
    ...(!r.logDir && !r.journald ? [`WARNING: this host has no journald and no log dir is set: profiles' output is lost (\`profiles init --log-dir DIR\` keeps it)`] : []),
    ...(r.logDirDefaulted ? [`this host has no journald: each profile's output goes to ${r.logDir}/NAME.log (\`profiles init --log-dir DIR\` chooses another directory)`] : []),
    ...(r.logDir ? [`log files rotate at ${r.logRotation.maxSize === "0" ? "no size (never)" : r.logRotation.maxSize} (the sweep, \`profiles logs --rotate\`), keeping ${r.logRotation.keep} old file(s)`] : []),
    r.linger.enabled
      ? `lingering is enabled for ${r.linger.user}: profiles keep running after logout`
      : `lingering is NOT enabled for ${r.linger.user}: profiles stop when you log out. Enable it with: ${r.linger.command}`,
    r.sweep.timer
      ? `nightly sweep: ${SWEEP_TIMER} enabled and started (\`systemctl --user list-timers\` shows its next run)${r.sweep.textfile ? `, metrics to ${r.sweep.textfile}` : ""}${r.sweep.webhook ? `, alerts to ${r.sweep.webhook}` : ""}${r.sweep.rollbackBroken ? ", rolls back profiles broken by their .env" : ""}`
      : `nightly sweep: off${r.sweep.removed ? ` (${SWEEP_TIMER} stopped, disabled and removed)` : ""}; \`profiles init --sweep\` turns it on, \`profiles sweep --print-cron\` prints a crontab line instead`,
    r.reloaded ? "reloaded the manager" : "unit files unchanged: the manager was not reloaded",
    "next: profiles add NAME [--port N]",
  ].join("\n");
}

export default defineCommand<Record<string, unknown>, InitAsked>({
  command: "init",
  describe: "Write the config, install the template unit and the nightly sweep timer, reload the manager when a unit file changed (safe to rerun)",
  // It writes the config: its flags are checked first, then the earlier config is read, then the manager reached.
  needs: { config: false, profiles: "none", manager: false },
  builder: (y) =>
    declarePolicyFlags(
      SETTINGS.reduce((out: Argv<any>, s) => (s.flag ? out.option(s.flag.name, { type: s.flag.boolean ? "boolean" : "string", describe: s.flag.describe }) : out), y),
      true,
    )
      .group(POLICY_FLAGS.map((f) => f.flag.slice(2)), "Crash-loop policy (written into the template, for every profile):"),
  parse: async (args) => ({ settings: await settingsFromFlags(args), policy: policyFromFlags({ ...args }) }),
  async run(_args, ctx, { settings, policy }) {
    const data = await initHost(ctx, settings, policy);
    return { data, text: renderInit(data) };
  },
});

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  checkConfigFlag, checkVarName, CONFIG_FLAGS, DEFAULT_CONFIG, loadConfigIfAny, parseRange, saveConfig, type Config,
} from "../config.js";
import { execStartFor, referenceExecStart } from "../core/exec-command.js";
import { execVarProblem, reloadCommand } from "../core/gateway-unit.js";
import { checkTextfile, checkWebhook } from "../core/sweep/flags.js";
import { removeSweepUnits, renderSweepUnits, startSweepTimer, writeSweepUnits } from "../core/sweep/install.js";
import { SWEEP_SERVICE, SWEEP_TIMER } from "../core/sweep/schedule.js";
import { redactUrl } from "../core/sweep/webhook.js";
import { reloadIfNeeded } from "../core/unit-reload.js";
import { UsageError } from "../errors.js";
import { gatewayScript, templateSource } from "../package-files.js";
import { LINGER_DIR } from "../paths.js";
import { ensureDir, writeFileIfChanged } from "../store/atomic.js";
import { TEMPLATE_UNIT, UNIT_PATTERN } from "../systemd/types.js";
import { setUnitKey } from "../systemd/unit-file.js";
import { defineCommand } from "./command.js";

interface InitArgs {
  exec?: string;
  portVar?: string;
  range?: string;
  healthPath?: string;
  logDir?: string;
  probe?: string;
  probeTimeout?: string;
  sweep?: boolean;
  sweepTextfile?: string;
  sweepWebhook?: string;
  hostVar?: string;
  serviceType?: string;
  stopTimeout?: string;
  reloadSignal?: string;
  secretKeys?: string;
  unique?: string;
}

/** The settings the flags give, each checked (exit 2) before anything is read; "" clears a setting where allowed. */
async function settingsFromFlags(args: InitArgs): Promise<Partial<Config>> {
  const given = args as Record<string, unknown>;
  const next: Partial<Config> = {};
  if (args.range !== undefined) {
    const r = parseRange(args.range);
    if (typeof r === "string") throw new UsageError(`--range ${r}`);
    next.portRange = r;
  }
  if (args.portVar !== undefined) next.portVar = checkVarName("--port-var", args.portVar);
  if (args.hostVar !== undefined) next.hostVar = checkVarName("--host-var", args.hostVar);
  if (args.exec !== undefined) {
    const problem = execVarProblem(args.exec);
    if (problem) throw new UsageError(`--exec "${args.exec}": ${problem}`);
    next.exec = args.exec.trim();
  }
  if (args.logDir !== undefined) {
    if (args.logDir !== "" && (!path.isAbsolute(args.logDir) || /[\s%]/.test(args.logDir))) {
      throw new UsageError(`--log-dir "${args.logDir}" must be an absolute path without spaces or %`);
    }
    next.logDir = args.logDir;
  }
  for (const f of CONFIG_FLAGS) if (given[f.arg] !== undefined) Object.assign(next, { [f.key]: checkConfigFlag(f, given[f.arg]) });
  if (args.sweep !== undefined) next.sweepTimer = args.sweep;
  if (args.sweepTextfile !== undefined) next.sweepTextfile = args.sweepTextfile === "" ? "" : await checkTextfile("--sweep-textfile", args.sweepTextfile);
  if (args.sweepWebhook !== undefined) next.sweepWebhook = args.sweepWebhook === "" ? "" : checkWebhook("--sweep-webhook", args.sweepWebhook);
  return next;
}

/** The template unit as installed: the shipped file with this user's ExecStart and log settings. */
export async function renderTemplate(config: Config, envPath: string | undefined): Promise<{ text: string; execStart: string }> {
  const execStart = config.exec ? execStartFor(config.exec, envPath) : referenceExecStart(gatewayScript(), config.portVar, config.hostVar);
  let text = await fs.readFile(templateSource(), "utf8");
  text = setUnitKey(text, "Service", "Type", [config.serviceType]);
  text = setUnitKey(text, "Service", "ExecStart", [execStart]);
  text = setUnitKey(text, "Service", "ExecReload", config.reloadSignal ? [reloadCommand(config.reloadSignal)] : []);
  text = setUnitKey(text, "Service", "TimeoutStopSec", [String(config.stopTimeoutSec)]);
  if (config.logDir) {
    text = setUnitKey(text, "Service", "StandardOutput", [`append:${config.logDir}/%i.log`]);
    text = setUnitKey(text, "Service", "StandardError", ["inherit"]);
  }
  return { text, execStart };
}

/** What `init` wrote, installed and found. */
export interface InitResult {
  configFile: string;
  unitFile: string;
  execStart: string;
  portRange: string;
  portVar: string;
  hostVar: string;
  serviceType: string;
  stopTimeoutSec: number;
  reloadSignal: string | null;
  healthPath: string;
  logDir: string | null;
  secretKeys: string[];
  uniqueKeys: string[];
  created: boolean;
  templateChanged: boolean;
  reloaded: boolean;
  linger: { enabled: boolean; file: string; command: string | null };
  probe: { kind: string; timeoutMs: number };
  sweep: { timer: boolean; unitFiles: string[]; execStart: string | null; removed: boolean; textfile: string | null; webhook: string | null };
}

/** `init`'s text for people: what was written, the gateway's settings, lingering (of `user`), the sweep, the next step. */
export function renderInit(r: InitResult, user: string): string {
  return [
    `${r.created ? "wrote" : "updated"} ${r.configFile}`,
    `installed ${r.unitFile}${r.templateChanged ? "" : " (unchanged)"}`,
    `  ExecStart=${r.execStart}`,
    `  Type=${r.serviceType}, TimeoutStopSec=${r.stopTimeoutSec}, ${r.reloadSignal ? `reload by SIG${r.reloadSignal}` : "no reload command"}`,
    ...(r.secretKeys.length > 0 ? [`secret keys beyond the built-in rule: ${r.secretKeys.join(", ")}`] : []),
    ...(r.uniqueKeys.length > 0 ? [`no two profiles may share a value of: ${r.uniqueKeys.join(", ")}`] : []),
    `ports ${r.portRange} in ${r.portVar} (host in ${r.hostVar}), health ${r.probe.kind === "tcp" ? "by TCP connect" : `on ${r.healthPath}`}${r.logDir ? `, logs in ${r.logDir}` : ""}`,
    r.linger.enabled
      ? `lingering is enabled for ${user}: profiles keep running after logout`
      : `lingering is NOT enabled for ${user}: profiles stop when you log out. Enable it with: ${r.linger.command}`,
    r.sweep.timer
      ? `nightly sweep: ${SWEEP_TIMER} enabled and started (\`systemctl --user list-timers\` shows its next run)${r.sweep.textfile ? `, metrics to ${r.sweep.textfile}` : ""}${r.sweep.webhook ? `, alerts to ${r.sweep.webhook}` : ""}`
      : `nightly sweep: off${r.sweep.removed ? ` (${SWEEP_TIMER} stopped, disabled and removed)` : ""}; \`profiles init --sweep\` turns it on, \`profiles sweep --print-cron\` prints a crontab line instead`,
    r.reloaded ? "reloaded the manager" : "unit files unchanged: the manager was not reloaded",
    "next: profiles add NAME [--port N]",
  ].join("\n");
}

export default defineCommand<InitArgs, Partial<Config>>({
  command: "init",
  describe: "Write the config, install the template unit and the nightly sweep timer, reload the manager when a unit file changed (safe to rerun)",
  // It writes the config: its flags are checked first, then the earlier config is read, then the manager reached.
  needs: { config: false, profiles: "none", manager: false },
  builder: (y) =>
    y
      .option("exec", { type: "string", describe: 'Your gateway\'s command; %i is the profile name, ${VAR} a value from its .env (default: the bundled agent-gateway)' })
      .option("port-var", { type: "string", describe: "Variable that carries the port in each .env (default PORT)" })
      .option("range", { type: "string", describe: "Ports to hand out, A-B (default 8600-8699)" })
      .option("health-path", { type: "string", describe: "HTTP path of the health probe (default /health)" })
      .option("log-dir", { type: "string", describe: "Append each profile's output to DIR/NAME.log instead of the journal" })
      .option("host-var", { type: "string", describe: "Variable that carries the listen host in each .env; the health probe goes there (default HOST)" })
      .option("service-type", { type: "string", describe: "simple, exec, or notify (the gateway sends READY=1 once it listens; a start waits for it). Default simple" })
      .option("stop-timeout", { type: "string", describe: "Seconds a stop waits for the gateway to exit before SIGKILL (TimeoutStopSec, default 15)" })
      .option("reload-signal", { type: "string", describe: 'Signal `profiles reload` sends (HUP, USR1, USR2); "" for none, which makes reload refuse' })
      .option("probe", { type: "string", describe: "Health probe kind: http (GET the health path, expect 2xx) or tcp (a connect is enough); default http" })
      .option("probe-timeout", { type: "string", describe: "Milliseconds one health probe may take (default 2000)" })
      .option("sweep", { type: "boolean", describe: `Install and start the nightly sweep timer (${SWEEP_TIMER}); --no-sweep stops, disables and removes it. Default: as before (on)` })
      .option("sweep-textfile", { type: "string", describe: 'Prometheus .prom file the sweep writes (the timer\'s, and `sweep` without --textfile); "" for none' })
      .option("sweep-webhook", { type: "string", describe: 'URL the sweep POSTs to when something is unhealthy; kept in config.ini (0600), out of the timer and cron command lines; "" for none' })
      .option("unique", { type: "string", describe: 'Keys no two profiles may share a value of, e.g. "TELEGRAM_BOT_TOKEN, DISCORD_TOKEN" (add, set and apply refuse, exit 5); "" for none' })
      .option("secret-keys", { type: "string", describe: 'More keys whose values are secrets, beyond names holding KEY, TOKEN, SECRET, PASS, AUTH, ...: "FOO, BAR_*" (* any run of letters, digits, _); "" for none' })
      .example("$0 init", "use the bundled reference gateway")
      .example('$0 init --exec "hermes --profile %i gateway run" --port-var API_SERVER_PORT --host-var API_SERVER_HOST', "use your own gateway")
      .example('$0 init --exec "astromesh serve --port ${PORT}" --service-type notify --reload-signal HUP --stop-timeout 40', "a notify daemon that takes its port as a flag"),
  parse: settingsFromFlags,
  async run(_args, ctx, settings) {
    const previous = await loadConfigIfAny(ctx.paths);
    const base = previous ?? DEFAULT_CONFIG;
    const config: Config = { ...base, portRange: { ...base.portRange }, ...settings };
    const { text, execStart } = await renderTemplate(config, ctx.env.PATH);
    const sweepUnits = await renderSweepUnits();
    // Reach the manager before writing anything, so that a host without one is left as it was.
    const sd = await ctx.systemd();

    if (config.logDir) await ensureDir(config.logDir, 0o700);
    await ensureDir(ctx.paths.unitDir, 0o755);
    const unitFile = path.join(ctx.paths.unitDir, TEMPLATE_UNIT);
    const templateChanged = await writeFileIfChanged(unitFile, text, 0o644);
    await saveConfig(ctx.paths, config);
    await ensureDir(ctx.paths.profilesDir, 0o700);
    await ensureDir(ctx.paths.stateDir, 0o700);
    const sweep = config.sweepTimer ? await writeSweepUnits(ctx.paths, sweepUnits) : { files: [], changed: false };
    const sweepRemoved = config.sweepTimer ? false : await removeSweepUnits(ctx.paths, sd);
    // The loaded instances stand for the template: the manager cannot load a template itself.
    const reloaded = await reloadIfNeeded(sd, templateChanged || sweep.changed || sweepRemoved, async () => [
      ...(await sd.list([UNIT_PATTERN])).map((s) => s.name),
      ...(config.sweepTimer ? [SWEEP_SERVICE, SWEEP_TIMER] : []),
    ]);
    if (config.sweepTimer) await startSweepTimer(sd);

    const user = ctx.env.USER || os.userInfo().username;
    const lingerFile = path.join(LINGER_DIR, user);
    const linger = await fs.access(lingerFile).then(() => true, () => false);
    const lingerCommand = `sudo loginctl enable-linger ${user}`;
    const data: InitResult = {
      configFile: ctx.paths.configFile,
      unitFile,
      execStart,
      portRange: `${config.portRange.from}-${config.portRange.to}`,
      portVar: config.portVar,
      hostVar: config.hostVar,
      serviceType: config.serviceType,
      stopTimeoutSec: config.stopTimeoutSec,
      reloadSignal: config.reloadSignal || null,
      healthPath: config.healthPath,
      logDir: config.logDir || null,
      secretKeys: config.secretKeys,
      uniqueKeys: config.uniqueKeys,
      created: previous === null,
      templateChanged,
      reloaded,
      linger: { enabled: linger, file: lingerFile, command: linger ? null : lingerCommand },
      probe: { kind: config.probe, timeoutMs: config.probeTimeoutMs },
      sweep: {
        timer: config.sweepTimer,
        unitFiles: sweep.files,
        execStart: config.sweepTimer ? sweepUnits.execStart : null,
        removed: sweepRemoved,
        textfile: config.sweepTextfile || null,
        webhook: config.sweepWebhook ? redactUrl(config.sweepWebhook) : null,
      },
    };
    return { data, text: renderInit(data, user) };
  },
});

/**
 * What `profiles init` does to a host, and what a manifest's host settings (`[defaults]`) do through
 * `apply`: config.ini, the template unit, the sweep's units, one reload of the manager when a unit file
 * changed. The manager is reached before anything is written.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DEFAULT_CONFIG, loadConfigIfAny, saveConfig, type Config } from "../config.js";
import { formatSize } from "../config-logs.js";
import { gatewayScript, templateSource } from "../package-files.js";
import { DEFAULT_UNIT_ENV_PATH } from "../env-path.js";
import { UsageError } from "../errors.js";
import { LINGER_DIR, type Paths } from "../paths.js";
import { listProfiles } from "../store/profiles.js";
import { ensureDir, writeFileIfChanged } from "../store/atomic.js";
import { TEMPLATE_UNIT, UNIT_PATTERN } from "../systemd/types.js";
import { setUnitKey } from "../systemd/unit-file.js";
import type { Context } from "./context.js";
import { execStartFor, referenceExecStart } from "./exec-command.js";
import { reloadCommand } from "./gateway-unit.js";
import { findJournal } from "./logs/journal.js";
import { defaultLogDir } from "./logs/source.js";
import { assertPolicySupported, POLICY_FLAGS, type PolicyKey } from "./restart-policy.js";
import { removeSweepUnits, renderSweepUnits, startSweepTimer, writeSweepUnits } from "./sweep/install.js";
import { SWEEP_SERVICE, SWEEP_TIMER } from "./sweep/schedule.js";
import { redactUrl } from "./sweep/webhook.js";
import { reloadIfNeeded } from "./unit-reload.js";

/**
 * Refuse to move the `.env` files of existing profiles (exit 2, nothing written): their gateways read
 * them where they are. `paths` is set to the env-path in force (that of the earlier config).
 */
async function assertEnvPathChange(paths: Paths, before: string, after: string): Promise<void> {
  paths.envPath = before;
  if (before === after) return;
  const existing = await listProfiles(paths);
  if (existing.length === 0) return;
  throw new UsageError(
    `--env-path cannot change while profiles exist (${existing.join(", ")}): their .env files stay where their units read them (${before || DEFAULT_UNIT_ENV_PATH})`,
    "remove them first (`profiles remove NAME` keeps each .env under removed/), or leave --env-path out",
  );
}

/** The template unit as installed: the shipped file with this user's ExecStart and log settings. */
export async function renderTemplate(config: Config, envPath: string | undefined): Promise<{ text: string; execStart: string }> {
  const execStart = config.exec ? execStartFor(config.exec, envPath) : referenceExecStart(gatewayScript(), config.portVar, config.hostVar);
  return { text: await templateText(config, execStart), execStart };
}

/**
 * The template `init` writes for `config`, around `execStart`: `doctor` compares every other line, and
 * cannot resolve the gateway program as init did (another PATH, another directory).
 */
export async function templateText(config: Config, execStart: string): Promise<string> {
  let text = await fs.readFile(templateSource(), "utf8");
  text = setUnitKey(text, "Service", "Type", [config.serviceType]);
  text = setUnitKey(text, "Service", "ExecStart", [execStart]);
  text = setUnitKey(text, "Service", "ExecReload", config.reloadSignal ? [reloadCommand(config.reloadSignal)] : []);
  text = setUnitKey(text, "Service", "TimeoutStopSec", [String(config.stopTimeoutSec)]);
  // The gateway re-reads the file AGENT_ENV_FILE names: both follow the env-path.
  const envFile = config.envPath || DEFAULT_UNIT_ENV_PATH;
  text = setUnitKey(text, "Service", "Environment", ["AGENT_PROFILE=%i", `AGENT_ENV_FILE=${envFile}`]);
  text = setUnitKey(text, "Service", "EnvironmentFile", [envFile]);
  for (const f of POLICY_FLAGS) {
    const value = config.restartPolicy[f.key];
    if (value !== undefined) text = setUnitKey(text, f.section, f.key, [value]);
  }
  if (config.logDir) {
    text = setUnitKey(text, "Service", "StandardOutput", [`append:${config.logDir}/%i.log`]);
    text = setUnitKey(text, "Service", "StandardError", ["inherit"]);
  }
  return text;
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
  /** Where each profile's `.env` lives, as the template's EnvironmentFile= says it. */
  envPath: string;
  logDir: string | null;
  /** Why there is a log dir nobody asked for: this host has no journald, and output must go somewhere. */
  logDirDefaulted: boolean;
  /** Whether this host runs journald (where output goes without a log dir). */
  journald: boolean;
  /** Rotation of the log files (`[logs]`): at this size (0: never), keeping this many old files. */
  logRotation: { maxSize: string; keep: number };
  secretKeys: string[];
  uniqueKeys: string[];
  created: boolean;
  templateChanged: boolean;
  reloaded: boolean;
  linger: { user: string; enabled: boolean; file: string; command: string | null };
  probe: { kind: string; timeoutMs: number };
  sweep: { timer: boolean; unitFiles: string[]; execStart: string | null; removed: boolean; textfile: string | null; webhook: string | null; rollbackBroken: boolean };
}

/** Set `settings` and the crash-loop `policy` changes (null: back to the template's) on this host, as `init` does. */
export async function initHost(ctx: Context, settings: Partial<Config>, policy: readonly [PolicyKey, string | null][]): Promise<InitResult> {
  const previous = await loadConfigIfAny(ctx.paths);
  const base = previous ?? DEFAULT_CONFIG;
  const restartPolicy = { ...base.restartPolicy };
  for (const [key, value] of policy) {
    if (value === null) delete restartPolicy[key];
    else restartPolicy[key] = value;
  }
  const config: Config = { ...base, portRange: { ...base.portRange }, ...settings, restartPolicy };
  await assertEnvPathChange(ctx.paths, base.envPath, config.envPath);
  // Without journald, a unit's output that goes to no file is lost for good: the first crash's reason with it.
  const journald = (await findJournal(ctx.env)) !== null;
  const logDirDefaulted = !config.logDir && settings.logDir === undefined && !journald;
  if (logDirDefaulted) config.logDir = defaultLogDir(ctx.paths);
  const { text, execStart } = await renderTemplate(config, ctx.env.PATH);
  const sweepUnits = await renderSweepUnits();
  // Reach the manager before writing anything, so that a host without one is left as it was, and one
  // too old for a policy key refuses it (exit 2) before anything is written.
  const sd = await ctx.systemd();
  await assertPolicySupported(sd, Object.keys(restartPolicy) as PolicyKey[]);

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
    envPath: config.envPath || DEFAULT_UNIT_ENV_PATH,
    logDir: config.logDir || null,
    logDirDefaulted,
    journald,
    logRotation: { maxSize: formatSize(config.logMaxBytes), keep: config.logKeep },
    secretKeys: config.secretKeys,
    uniqueKeys: config.uniqueKeys,
    created: previous === null,
    templateChanged,
    reloaded,
    linger: { user, enabled: linger, file: lingerFile, command: linger ? null : lingerCommand },
    probe: { kind: config.probe, timeoutMs: config.probeTimeoutMs },
    sweep: {
      timer: config.sweepTimer,
      unitFiles: sweep.files,
      execStart: config.sweepTimer ? sweepUnits.execStart : null,
      removed: sweepRemoved,
      textfile: config.sweepTextfile || null,
      webhook: config.sweepWebhook ? redactUrl(config.sweepWebhook) : null,
      rollbackBroken: config.sweepRollbackBroken,
    },
  };
  return data;
}

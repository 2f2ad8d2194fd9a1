import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { checkHealthPath, checkVarName, DEFAULT_CONFIG, loadConfigIfAny, parseRange, saveConfig, type Config } from "../config.js";
import { execStartFor, referenceExecStart } from "../core/exec-command.js";
import { UsageError } from "../errors.js";
import { gatewayScript, templateSource } from "../package-files.js";
import { ensureDir, writeFileAtomic } from "../store/atomic.js";
import { TEMPLATE_UNIT } from "../systemd/types.js";
import { setUnitKey } from "../systemd/unit-file.js";
import { defineCommand } from "./command.js";

interface InitArgs {
  exec?: string;
  portVar?: string;
  range?: string;
  healthPath?: string;
  logDir?: string;
}

/** Where logind keeps the linger flag; without logind (no system bus) the file is all there is. */
export const LINGER_DIR = "/var/lib/systemd/linger";

function mergeConfig(base: Config, args: InitArgs): Config {
  const next = { ...base, portRange: { ...base.portRange } };
  if (args.range !== undefined) {
    const r = parseRange(args.range);
    if (typeof r === "string") throw new UsageError(`--range ${r}`);
    next.portRange = r;
  }
  if (args.portVar !== undefined) next.portVar = checkVarName("--port-var", args.portVar);
  if (args.healthPath !== undefined) next.healthPath = checkHealthPath(args.healthPath);
  if (args.exec !== undefined) next.exec = args.exec.trim();
  if (args.logDir !== undefined) {
    if (args.logDir !== "" && (!path.isAbsolute(args.logDir) || /[\s%]/.test(args.logDir))) {
      throw new UsageError(`--log-dir "${args.logDir}" must be an absolute path without spaces or %`);
    }
    next.logDir = args.logDir;
  }
  return next;
}

/** The template unit as installed: the shipped file with this user's ExecStart and log settings. */
export async function renderTemplate(config: Config, envPath: string | undefined): Promise<{ text: string; execStart: string }> {
  const execStart = config.exec ? execStartFor(config.exec, envPath) : referenceExecStart(gatewayScript(), config.portVar);
  let text = await fs.readFile(templateSource(), "utf8");
  text = setUnitKey(text, "Service", "ExecStart", [execStart]);
  if (config.logDir) {
    text = setUnitKey(text, "Service", "StandardOutput", [`append:${config.logDir}/%i.log`]);
    text = setUnitKey(text, "Service", "StandardError", ["inherit"]);
  }
  return { text, execStart };
}

export default defineCommand<InitArgs>({
  command: "init",
  describe: "Write the config, install the template unit, reload the manager (safe to rerun)",
  builder: (y) =>
    y
      .option("exec", { type: "string", describe: 'Your gateway\'s command; %i is the profile name, ${VAR} a value from its .env (default: the bundled agent-gateway)' })
      .option("port-var", { type: "string", describe: "Variable that carries the port in each .env (default PORT)" })
      .option("range", { type: "string", describe: "Ports to hand out, A-B (default 8600-8699)" })
      .option("health-path", { type: "string", describe: "HTTP path of the health probe (default /health)" })
      .option("log-dir", { type: "string", describe: "Append each profile's output to DIR/NAME.log instead of the journal" })
      .example("$0 init", "use the bundled reference gateway")
      .example('$0 init --exec "hermes --profile %i gateway run" --port-var API_SERVER_PORT', "use your own gateway"),
  async run(args, ctx) {
    const previous = await loadConfigIfAny(ctx.paths);
    const config = mergeConfig(previous ?? DEFAULT_CONFIG, args);
    const { text, execStart } = await renderTemplate(config, ctx.env.PATH);
    // Reach the manager before writing anything, so that a host without one is left as it was.
    const sd = await ctx.systemd();

    if (config.logDir) await ensureDir(config.logDir, 0o700);
    await ensureDir(ctx.paths.unitDir, 0o755);
    const unitFile = path.join(ctx.paths.unitDir, TEMPLATE_UNIT);
    await writeFileAtomic(unitFile, text, 0o644);
    await saveConfig(ctx.paths, config);
    await ensureDir(ctx.paths.profilesDir, 0o700);
    await ensureDir(ctx.paths.stateDir, 0o700);
    await sd.reload();

    const user = ctx.env.USER || os.userInfo().username;
    const lingerFile = path.join(LINGER_DIR, user);
    const linger = await fs.access(lingerFile).then(() => true, () => false);
    const lingerCommand = `sudo loginctl enable-linger ${user}`;
    const data = {
      configFile: ctx.paths.configFile,
      unitFile,
      execStart,
      portRange: `${config.portRange.from}-${config.portRange.to}`,
      portVar: config.portVar,
      healthPath: config.healthPath,
      logDir: config.logDir || null,
      created: previous === null,
      linger: { enabled: linger, file: lingerFile, command: linger ? null : lingerCommand },
    };
    const lines = [
      `${previous ? "updated" : "wrote"} ${ctx.paths.configFile}`,
      `installed ${unitFile}`,
      `  ExecStart=${execStart}`,
      `ports ${data.portRange} in ${config.portVar}, health on ${config.healthPath}${config.logDir ? `, logs in ${config.logDir}` : ""}`,
      linger
        ? `lingering is enabled for ${user}: profiles keep running after logout`
        : `lingering is NOT enabled for ${user}: profiles stop when you log out. Enable it with: ${lingerCommand}`,
      "next: profiles add NAME [--port N]",
    ];
    return { data, text: lines.join("\n") };
  },
});

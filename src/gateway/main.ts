#!/usr/bin/env node
/** `agent-gateway`: the reference gateway a profile's unit runs; exits 78 (EX_CONFIG) on bad settings. */
import { parseArgs } from "node:util";
import { DEFAULT_VARS, loadConfig, type GatewayConfig } from "./config.js";
import { liveSettings, reloadLive } from "./live.js";
import { systemdNotifier } from "./notify.js";
import { createGateway } from "./server.js";

// sysexits EX_CONFIG: a unit can list it in RestartPreventExitStatus, since restarting will not fix it.
const EX_CONFIG = 78;
const EXIT_FAILED = 1;
const FORCE_EXIT_MS = 3000;

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: "the port is already in use",
  EADDRNOTAVAIL: "the address is not on this host",
  EACCES: "permission denied",
  ENOTFOUND: "the host name does not resolve",
};

function die(prefix: string, line: string, code: number): never {
  process.stderr.write(`${prefix}: ${line.replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(code);
}

function readFlags(argv: string[]): { portVar: string; hostVar: string } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        "port-var": { type: "string", default: DEFAULT_VARS.portVar },
        "host-var": { type: "string", default: DEFAULT_VARS.hostVar },
      },
      strict: true,
      allowPositionals: false,
    });
    return { portVar: values["port-var"], hostVar: values["host-var"] };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code?.startsWith("ERR_PARSE_ARGS_")) die("agent-gateway", (err as Error).message, EX_CONFIG);
    throw err;
  }
}

function urlOf(config: GatewayConfig): string {
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

function main(): void {
  const vars = readFlags(process.argv.slice(2));
  const result = loadConfig(process.env, vars);
  if (!result.ok) die("agent-gateway", result.problems.join("; "), EX_CONFIG);
  const { config } = result;
  const prefix = `agent-gateway ${config.profile}`;
  const live = liveSettings(process.env);
  const server = createGateway(config, live);
  const notifier = systemdNotifier(process.env, (err) => process.stderr.write(`${prefix}: cannot notify the service manager: ${err.message}\n`));
  const notify = (state: string): void => void notifier?.send(state).catch((err: Error) => process.stderr.write(`${prefix}: cannot notify the service manager (${state}): ${err.message}\n`));

  // SIGHUP (`profiles reload`): re-read the .env the unit names and apply what can change in place.
  process.on("SIGHUP", () => {
    const file = process.env.AGENT_ENV_FILE;
    if (!file) {
      process.stderr.write(`${prefix}: SIGHUP ignored: AGENT_ENV_FILE is not set, so there is no .env to re-read\n`);
      return;
    }
    try {
      const r = reloadLive(file, live, process.env, [vars.portVar, vars.hostVar, "API_KEY"]);
      process.stdout.write(`${prefix}: reloaded ${file}: ${r.changed.length > 0 ? `changed ${r.changed.join(", ")}` : "nothing changed"}\n`);
      if (r.needsRestart.length > 0) {
        process.stderr.write(`${prefix}: ${r.needsRestart.join(", ")} changed: that needs a restart (\`profiles restart ${config.profile}\`); still serving the old value\n`);
      }
    } catch (err) {
      process.stderr.write(`${prefix}: reload failed, keeping the current settings: ${(err as Error).message}\n`);
    }
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    // A second signal means the operator does not want to wait for in-flight requests.
    if (stopping || !server.listening) process.exit(0);
    stopping = true;
    notify("STOPPING=1");
    process.stderr.write(`${prefix}: ${signal}, closing\n`);
    setTimeout(() => process.exit(0), FORCE_EXIT_MS).unref();
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  server.on("error", (err: NodeJS.ErrnoException) => {
    const what = err.code === undefined ? err.message : `${err.code} (${LISTEN_ERRORS[err.code] ?? err.message})`;
    const doing = server.listening ? "server error" : `cannot listen on ${urlOf(config)}`;
    die(prefix, `${doing}: ${what}`, EXIT_FAILED);
  });
  server.listen({ host: config.host, port: config.port }, () => {
    process.stdout.write(`${prefix} listening on ${urlOf(config)}\n`);
    // Type=notify: the manager reports the unit active only now, so a start waits for a real listener.
    notify(`READY=1\nSTATUS=listening on ${urlOf(config)}\nMAINPID=${process.pid}`);
    // Under a supervisor that forks with an IPC channel (pm2's `wait_ready`), say when we are serving;
    // under systemd there is no channel and this does nothing.
    process.send?.("ready");
  });
}

main();

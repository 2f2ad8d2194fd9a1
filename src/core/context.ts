import path from "node:path";
import { loadConfig, type Config } from "../config.js";
import { resolvePaths, type Paths } from "../paths.js";
import type { PortInspector } from "../ports/types.js";
import type { Prober } from "../probe/types.js";
import type { ProcessInspector } from "../processes/inspector.js";
import type { SystemdManager } from "../systemd/types.js";
import type { PortOwners } from "./port-owner.js";
import { createLogger, type Logger } from "../log.js";
import { peopleText } from "../redact.js";

/** The manager's unit file states, kept between runs (systemd/unit-file-cache.ts). */
export const UNIT_FILE_CACHE = "unit-file-states.json";

/** Everything a command needs from the outside world, so that tests can hand in fakes. */
export interface Context {
  env: NodeJS.ProcessEnv;
  paths: Paths;
  /** Results are printed as JSON; progress lines are kept off the terminal. */
  json: boolean;
  config(): Promise<Config>;
  systemd(): Promise<SystemdManager>;
  ports(): Promise<PortInspector>;
  /** Who holds a port, judged for a unit (its own processes or another's): what the health gates ask. */
  owners(): Promise<PortOwners>;
  prober(): Promise<Prober>;
  /** Facts about processes from /proc (cgroup, start time, environment). */
  procs(): Promise<ProcessInspector>;
  /** Structured logs on stderr (pino); quiet unless --verbose. */
  log: Logger;
  /** A line of progress for people, on stderr (redacted, control characters escaped). */
  progress(message: string): void;
  /**
   * A line for people on stderr that --json does not quiet, as it quiets progress: the answer to their own
   * Ctrl-C ("stopping once the step under way is done"), which they would otherwise take for a hang.
   */
  notice(message: string): void;
  /** Close what was opened (the bus connection). */
  close(): Promise<void>;
}

/** Parts a test may replace; the rest come from the real adapters. */
export type ContextOverrides = Partial<Pick<Context, "systemd" | "ports" | "owners" | "prober" | "procs" | "progress" | "config" | "log">>;

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

/** The real context: adapters are imported only when a command first needs them, to keep start-up fast. */
export function createContext(opts: { env?: NodeJS.ProcessEnv; json?: boolean; quiet?: boolean; verbose?: boolean } & ContextOverrides = {}): Context {
  const env = opts.env ?? process.env;
  const paths = resolvePaths(env);
  let bus: SystemdManager | undefined;
  const systemd =
    opts.systemd ??
    once(async () => {
      const { connectSystemd } = await import("../systemd/manager.js");
      bus = await connectSystemd(env, { unitFileCache: path.join(paths.cacheDir, UNIT_FILE_CACHE) });
      return bus;
    });
  const ports = opts.ports ?? once(async () => new (await import("../ports/proc-listeners.js")).ProcPortInspector());
  const procs = opts.procs ?? once(async () => new (await import("../processes/inspector.js")).ProcProcessInspector());
  const quiet = opts.quiet || opts.json;
  const toStderr = (message: string): void => void process.stderr.write(`${peopleText(message)}\n`);
  const progress = opts.progress ?? ((message: string) => void (quiet || toStderr(message)));
  return {
    env,
    paths,
    json: opts.json ?? false,
    log: opts.log ?? createLogger(opts.verbose ?? false, env),
    // Where the `.env` files live is config.ini's to say: every path of a profile follows it from here on.
    config: once(async () => {
      const config = await (opts.config ?? (() => loadConfig(paths)))();
      paths.envPath = config.envPath ?? "";
      return config;
    }),
    systemd,
    ports,
    owners:
      opts.owners ??
      once(async () => {
        const { procPortOwners } = await import("./port-owner.js");
        return procPortOwners(await ports(), await procs());
      }),
    procs,
    prober: opts.prober ?? once(async () => (await import("../probe/http.js")).httpProber),
    progress,
    notice: opts.progress ?? (opts.json ? toStderr : progress),
    async close() {
      await bus?.close();
    },
  };
}

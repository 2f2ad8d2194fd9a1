import path from "node:path";
import { expandEnvPath } from "./env-path.js";
import { appCacheDir, homeOf, runtimeDirOf, xdg } from "./xdg.js";

/** Every file location the tool uses, resolved once from the XDG base directories. */
export interface Paths {
  configRoot: string;
  appConfigDir: string;
  configFile: string;
  profilesDir: string;
  stateDir: string;
  locksDir: string;
  removedDir: string;
  /** What can be made again: answers of the manager kept between runs ($XDG_CACHE_HOME/agent-profiles). */
  cacheDir: string;
  unitDir: string;
  /** $XDG_RUNTIME_DIR/systemd/user: where `systemctl --user enable --runtime` links units, until the runtime directory goes. */
  runtimeUnitDir: string;
  /** The user's home, for `%h` of the env-path. */
  home: string;
  /** config.ini's env-path pattern (`init --env-path`); "" is the default: `.env` in the profile's directory. */
  envPath: string;
}

/** Where logind keeps a user's linger flag; without logind (no system bus) the file is all there is. */
export const LINGER_DIR = "/var/lib/systemd/linger";

/** Resolve paths from an environment (process.env, or a test's own). */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): Paths {
  const home = homeOf(env);
  const configRoot = xdg(env.XDG_CONFIG_HOME, path.join(home, ".config"));
  const stateRoot = xdg(env.XDG_STATE_HOME, path.join(home, ".local", "state"));
  const appConfigDir = path.join(configRoot, "agent-profiles");
  const stateDir = path.join(stateRoot, "agent-profiles");
  return {
    configRoot,
    appConfigDir,
    configFile: path.join(appConfigDir, "config.ini"),
    profilesDir: path.join(appConfigDir, "profiles"),
    stateDir,
    locksDir: path.join(stateDir, "locks"),
    removedDir: path.join(stateDir, "removed"),
    cacheDir: appCacheDir(env),
    unitDir: path.join(configRoot, "systemd", "user"),
    runtimeUnitDir: path.join(runtimeDirOf(env, process.getuid?.() ?? 0), "systemd", "user"),
    home,
    envPath: "",
  };
}

/** The directory that holds one profile's `.env`. */
export function profileDir(paths: Paths, name: string): string {
  return path.join(paths.profilesDir, name);
}

/** A profile's `.env`, the file the unit reads with `EnvironmentFile=`: where the env-path says, or in its directory. */
export function envFile(paths: Paths, name: string): string {
  return paths.envPath ? expandEnvPath(paths.envPath, paths.home, name) : path.join(paths.profilesDir, name, ".env");
}

/** Whether a profile's `.env` lives outside its directory (an env-path): its directory then only marks it as ours. */
export function envOutside(paths: Paths): boolean {
  return paths.envPath !== "";
}

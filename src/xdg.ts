/**
 * The XDG base directories as this tool reads them, in a module of its own: the CLI's loader finds the
 * code cache with it before the bundle (and paths.ts) is loaded.
 */
import os from "node:os";
import path from "node:path";
import { UsageError } from "./errors.js";

// The XDG spec says a relative path in these variables is invalid and must be ignored.
export function xdg(value: string | undefined, fallback: string): string {
  return value && path.isAbsolute(value) ? value : fallback;
}

/** The user's home: $HOME when it is absolute, else the password database's. */
export function homeOf(env: NodeJS.ProcessEnv): string {
  if (env.HOME && path.isAbsolute(env.HOME)) return env.HOME;
  // Not os.homedir(): it returns $HOME as it is, relative or not.
  try {
    return os.userInfo().homedir;
  } catch {
    // A uid the password database does not know (a container's): no home to guess, the working directory least of all.
    throw new UsageError(
      `HOME is ${env.HOME ? `"${env.HOME}", not an absolute path,` : "not set,"} and uid ${process.getuid?.()} has no entry in the password database: there is no home to keep profiles in`,
      "set HOME to your home directory (an absolute path)",
    );
  }
}

/** $XDG_RUNTIME_DIR, what lasts until a reboot (or, without lingering, the user's last logout); /run/user/UID (where logind makes it) when unset or relative. */
export function runtimeDirOf(env: NodeJS.ProcessEnv, uid: number): string {
  return xdg(env.XDG_RUNTIME_DIR, `/run/user/${uid}`);
}

/** $XDG_CACHE_HOME/agent-profiles (default ~/.cache/agent-profiles): what is kept only to be faster. */
export function appCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(xdg(env.XDG_CACHE_HOME, path.join(homeOf(env), ".cache")), "agent-profiles");
}

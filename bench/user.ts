/** A sandbox user, as `scripts/user-manager.sh start` printed it, and the environment its commands get. */
import fs from "node:fs";

/** A throwaway user whose private `systemd --user` is running. */
export interface SandboxUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** What a login of the user would have: HOME, USER, PATH, the runtime dir and the user bus. */
  env: Record<string, string>;
}

/** Reads the KEY=VALUE lines that `user-manager.sh start` prints (saved to `file` by scripts/bench.sh). */
export function loadSandbox(file: string): SandboxUser {
  const values = new Map<string, string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const get = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${file}: no ${key}= line; is it the output of user-manager.sh start?`);
    return value;
  };
  const name = get("AP_USER");
  const home = get("AP_HOME");
  return {
    name,
    uid: Number(get("AP_UID")),
    gid: Number(get("AP_GID")),
    home,
    env: {
      HOME: home,
      USER: name,
      LOGNAME: name,
      PATH: get("AP_PATH"),
      XDG_RUNTIME_DIR: get("XDG_RUNTIME_DIR"),
      DBUS_SESSION_BUS_ADDRESS: get("DBUS_SESSION_BUS_ADDRESS"),
    },
  };
}

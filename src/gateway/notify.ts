/**
 * sd_notify for the reference gateway (and test fixtures): READY=1, RELOADING=1, STOPPING=1 and
 * WATCHDOG=1 datagrams to the manager's `$NOTIFY_SOCKET`. Node has no AF_UNIX datagram sockets of its
 * own; node-unix-socket ships a prebuilt N-API binary per platform (no compiler, nothing downloaded at
 * install). It is loaded only when the manager asks for notifications, so other runs never touch it.
 * The datagram comes from the main process itself, so the manager attributes it without a race
 * (unlike `systemd-notify`, which may exit before systemd 252 reads its cgroup).
 */
import { createRequire } from "node:module";

/** Sends notification lines to the service manager. */
export interface Notifier {
  send(state: string): Promise<void>;
  /** Stop the watchdog pings. */
  close(): void;
}

interface DgramSocketLike {
  sendTo(buf: Buffer, offset: number, length: number, dest: string, cb?: (err: Error | undefined) => void): void;
  on(event: "error", fn: (err: Error) => void): void;
  close(): void;
}

/** A Notifier for `$NOTIFY_SOCKET`, or null when the manager did not ask for notifications. */
export function systemdNotifier(env: NodeJS.ProcessEnv = process.env, onError: (err: Error) => void = () => undefined): Notifier | null {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return null;
  // An abstract socket is written "@name"; the kernel wants a leading NUL.
  const dest = socketPath.startsWith("@") ? `\0${socketPath.slice(1)}` : socketPath;
  const require = createRequire(import.meta.url);
  const { DgramSocket } = require("node-unix-socket") as { DgramSocket: new () => DgramSocketLike };
  const socket = new DgramSocket();
  socket.on("error", onError);
  let watchdog: NodeJS.Timeout | undefined;
  const send = (state: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const buf = Buffer.from(state);
      socket.sendTo(buf, 0, buf.length, dest, (err) => (err ? reject(err) : resolve()));
    });
  // WatchdogSec= gives WATCHDOG_USEC; ping at half of it, as sd_watchdog_enabled(3) advises.
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  if (Number.isFinite(usec) && usec > 0 && forUs) {
    watchdog = setInterval(() => send("WATCHDOG=1").catch(onError), Math.max(1, Math.floor(usec / 2000)));
    watchdog.unref();
  }
  return {
    send,
    close() {
      clearInterval(watchdog);
      socket.close();
    },
  };
}

/** Turning D-Bus and socket failures into the CLI's domain errors, by error name or errno, never by message text. */
import { DBusError } from "dbus-next";
import { AppError, ManagerUnreachableError, SystemdError } from "../errors.js";

/** D-Bus error names this adapter tells apart (`SystemdError.busName` carries them). */
export const BusError = {
  NoSuchUnit: "org.freedesktop.systemd1.NoSuchUnit",
  UnitMasked: "org.freedesktop.systemd1.UnitMasked",
  ShuttingDown: "org.freedesktop.systemd1.ShuttingDown",
  TransactionIsDestructive: "org.freedesktop.systemd1.TransactionIsDestructive",
  AccessDenied: "org.freedesktop.DBus.Error.AccessDenied",
  InteractiveAuthorizationRequired: "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
  FileNotFound: "org.freedesktop.DBus.Error.FileNotFound",
  UnknownObject: "org.freedesktop.DBus.Error.UnknownObject",
  ServiceUnknown: "org.freedesktop.DBus.Error.ServiceUnknown",
  NameHasNoOwner: "org.freedesktop.DBus.Error.NameHasNoOwner",
  NoReply: "org.freedesktop.DBus.Error.NoReply",
  Disconnected: "org.freedesktop.DBus.Error.Disconnected",
  NoServer: "org.freedesktop.DBus.Error.NoServer",
  Timeout: "org.freedesktop.DBus.Error.Timeout",
  TimedOut: "org.freedesktop.DBus.Error.TimedOut",
} as const;

/** Bus errors that mean "nobody is there to answer", not "the manager said no". */
const UNREACHABLE_BUS_ERRORS: ReadonlySet<string> = new Set([
  BusError.ServiceUnknown,
  BusError.NameHasNoOwner,
  BusError.NoReply,
  BusError.Disconnected,
  BusError.NoServer,
  BusError.Timeout,
  BusError.TimedOut,
]);

/** errno codes of a socket that cannot reach, or lost, the bus. */
const UNREACHABLE_ERRNOS: ReadonlySet<string> = new Set([
  "ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ENOTDIR", "ECONNRESET", "EPIPE", "ENOTCONN", "ETIMEDOUT",
]);

/** Where a bus call was made, for error messages. */
export interface BusErrorContext {
  /** The bus address, for ManagerUnreachableError. */
  address: string;
  /** What was being done, e.g. `StartUnit agent-gateway@liam.service`. */
  action: string;
}

/** Maps a failed bus call to a domain error by its D-Bus error name or errno code; anything else is returned as is. */
export function translateBusError(err: unknown, context: BusErrorContext): Error {
  if (err instanceof AppError) return err;
  if (err instanceof DBusError) {
    const name = err.type;
    const what = `${context.action}: ${err.text || name}`;
    if (UNREACHABLE_BUS_ERRORS.has(name)) return new ManagerUnreachableError(context.address, what);
    switch (name) {
      case BusError.AccessDenied:
      case BusError.InteractiveAuthorizationRequired:
        return new SystemdError(what, name, "run this as the user who owns the manager (not root, not another user)");
      case BusError.UnitMasked:
        return new SystemdError(what, name, "the unit is masked: `systemctl --user unmask` it first");
      // A manager on its way out answers no more jobs: for a roll that is an interruption, not a failed profile.
      case BusError.ShuttingDown:
        return new ManagerUnreachableError(context.address, `${what} (the manager is shutting down)`);
      default:
        return new SystemdError(what, name);
    }
  }
  const code = errnoCode(err);
  if (code !== undefined && UNREACHABLE_ERRNOS.has(code)) {
    return new ManagerUnreachableError(context.address, `${context.action}: ${describe(err)}`);
  }
  return err instanceof Error ? err : new Error(`${context.action}: ${describe(err)}`);
}

/** Why a connection died before Hello was answered. */
export function whyConnectFailed(err: unknown): string {
  const code = errnoCode(err);
  // dbus-daemon completes the auth exchange, then hangs up on a uid its policy does not admit.
  if (err === undefined || code === "EPIPE" || code === "ECONNRESET") {
    return "the bus hung up during authentication; a user's bus admits only that user (running as root or as someone else?)";
  }
  return describe(err);
}

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  // dbus-next's handshake reports a rejected auth as the server's raw reply line (a Buffer).
  if (Buffer.isBuffer(err)) return `authentication rejected: ${err.toString("ascii").trim()}`;
  return String(err);
}

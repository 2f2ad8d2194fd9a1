/** The connection to the user's bus (dbus-next): connect with a deadline, method calls with a reply timeout, signals, teardown. */
import type { Socket } from "node:net";
import { Message, MessageType, sessionBus, type MessageBus } from "dbus-next";
import { AppError, ManagerUnreachableError } from "../errors.js";
import { describe, translateBusError, whyConnectFailed } from "./bus-errors.js";
import { Deadline } from "./deadline.js";
import { PING_MANAGER, type BusCaller, type MethodCall } from "./methods.js";
import { encodeMethodCall } from "./wire.js";

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** The D-Bus reference implementation's default reply timeout. */
const DEFAULT_CALL_TIMEOUT_MS = 25_000;

/** Options of connectSystemd. */
export interface ConnectOptions {
  /** Deadline for the socket, the auth handshake, Hello and a first Ping of the manager (5 s). */
  connectTimeoutMs?: number;
  /** Deadline for the reply to each method call (25 s). */
  callTimeoutMs?: number;
}

/** Opens the user's session bus and checks that the manager answers there; throws ManagerUnreachableError when it cannot. */
export async function openBus(env: NodeJS.ProcessEnv, opts: ConnectOptions = {}): Promise<BusConnection> {
  const address = busAddress(env);
  if (address === undefined) {
    throw new ManagerUnreachableError("(no address)", "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set");
  }
  let bus: MessageBus;
  try {
    bus = sessionBus({ busAddress: address });
  } catch (err) {
    // dbus-next parses the address and opens the socket synchronously here.
    throw new ManagerUnreachableError(address, `unusable bus address (${describe(err)})`);
  }
  const connection = new BusConnection(bus, address, opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  try {
    await connection.handshake(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  } catch (err) {
    connection.destroy();
    throw err;
  }
  return connection;
}

function busAddress(env: NodeJS.ProcessEnv): string | undefined {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
  return undefined;
}

/** dbus-next's connection under a bus: private, with the socket and the function that writes each message. */
interface DbusNextConnection {
  stream?: Socket;
  message?: (msg: Message) => void;
}

function connectionOf(bus: MessageBus): DbusNextConnection | undefined {
  return (bus as unknown as { _connection?: DbusNextConnection })._connection;
}

/** dbus-next keeps its socket private; we need it to see the bus close and to tear down a stalled connect. */
function socketOf(bus: MessageBus): Socket | undefined {
  return connectionOf(bus)?.stream;
}

/**
 * Has the method calls this adapter sends written by encodeMethodCall (wire.ts) instead of dbus-next's
 * marshaller; any other message still goes through dbus-next. Its connection swaps `message` itself
 * (once connected, and again when the stream ends), so this wraps the connected one, after Hello.
 */
function writeCallsOurselves(bus: MessageBus): void {
  const connection = connectionOf(bus);
  const theirs = connection?.message;
  const stream = connection?.stream;
  if (connection === undefined || theirs === undefined || stream === undefined || "supportsUnixFd" in stream) return;
  connection.message = (msg: Message) => {
    const bytes = msg.type === MessageType.METHOD_CALL ? encodeMethodCall(msg) : null;
    if (bytes === null || !stream.writable) return theirs.call(connection, msg);
    stream.write(bytes);
  };
}

interface Pending {
  reject(err: Error): void;
}

/** One connection to the bus; once lost, every call and everything waiting on it fails with ManagerUnreachableError. */
export class BusConnection implements BusCaller {
  private closed = false;
  /** Set once Hello is answered; before that, a dropped socket means the bus refused us. */
  private connected = false;
  private closeReason: string | undefined;
  private readonly pending = new Set<Pending>();
  private readonly lostListeners: ((err: ManagerUnreachableError) => void)[] = [];
  private corked = false;
  private readonly socket: Socket | undefined;

  constructor(
    private readonly bus: MessageBus,
    readonly address: string,
    private readonly callTimeoutMs: number,
  ) {
    this.socket = socketOf(bus);
    // Without a listener an 'error' event (ENOENT, ECONNREFUSED, a closed stream) crashes node.
    bus.on("error", (err: unknown) => {
      this.lost(this.connected ? describe(err) : whyConnectFailed(err));
      // A socket left open after we gave up on it would keep node running.
      this.socket?.destroy();
    });
    this.socket?.once("close", () => this.lost(this.connected ? "the bus closed the connection" : whyConnectFailed(undefined)));
    bus.once("connect", () => {
      this.connected = true;
      writeCallsOurselves(bus);
    });
  }

  /** Waits for the socket, auth and Hello, then pings the manager so a bus without systemd fails here. */
  async handshake(timeoutMs: number): Promise<void> {
    const deadline = new Deadline(timeoutMs, () => new ManagerUnreachableError(this.address, `no answer within ${timeoutMs} ms`));
    const entry: Pending = { reject: () => undefined };
    const connected = new Promise<void>((resolve, reject) => {
      entry.reject = reject;
      this.pending.add(entry);
      this.bus.once("connect", () => resolve());
    });
    try {
      await deadline.race(connected);
      await deadline.race(this.call(PING_MANAGER));
    } finally {
      deadline.clear();
      this.pending.delete(entry);
    }
  }

  /** Calls `handler` with the body and the object path of each signal `member` of `iface`. */
  onSignal(iface: string, member: string, handler: (body: unknown[], path: string) => void): void {
    this.bus.on("message", (msg: Message) => {
      if (msg.type === MessageType.SIGNAL && msg.interface === iface && msg.member === member) handler(msg.body as unknown[], msg.path ?? "");
    });
  }

  /** Calls `listener` with the error once the connection is lost or closed, after the pending calls have failed with it. */
  onLost(listener: (err: ManagerUnreachableError) => void): void {
    this.lostListeners.push(listener);
  }

  async call(call: MethodCall): Promise<unknown[]> {
    const { destination, path, iface, member, signature, body, action } = call;
    if (this.closed) throw new ManagerUnreachableError(this.address, this.closeReason ?? "not connected");
    const msg = new Message({ destination, path, interface: iface, member, signature, body });
    let timer: NodeJS.Timeout | undefined;
    const entry: Pending = { reject: () => undefined };
    try {
      const reply = await new Promise<Message | null>((resolve, reject) => {
        entry.reject = reject;
        this.pending.add(entry);
        timer = setTimeout(
          () => reject(new ManagerUnreachableError(this.address, `${action}: no reply within ${this.callTimeoutMs} ms`)),
          this.callTimeoutMs,
        );
        this.corkUntilNextTick();
        this.bus.call(msg).then(resolve, reject);
      });
      return reply?.body ?? [];
    } catch (err) {
      // dbus-next throws plain Errors when it writes to a stream that has just ended.
      if (this.closed && !(err instanceof AppError)) {
        throw new ManagerUnreachableError(this.address, `${action}: ${this.closeReason ?? describe(err)}`);
      }
      throw translateBusError(err, { address: this.address, action });
    } finally {
      clearTimeout(timer);
      this.pending.delete(entry);
    }
  }

  /** Disconnects and waits until the socket has closed. */
  async close(): Promise<void> {
    this.lost("the connection was closed by this program");
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    const gone = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    if (socket.writable) this.bus.disconnect();
    await gone;
  }

  /** Drops the connection at once; for a connect that failed or stalled half-way. */
  destroy(): void {
    this.lost("the connection was abandoned");
    this.socket?.destroy();
  }

  /** Marks the connection dead and fails everything still waiting on it, since dbus-next never will. */
  private lost(reason: string): void {
    if (!this.closed) {
      this.closed = true;
      this.closeReason = reason;
    }
    const err = new ManagerUnreachableError(this.address, this.closeReason ?? reason);
    for (const p of this.pending) p.reject(err);
    this.pending.clear();
    for (const listener of this.lostListeners) listener(err);
  }

  /** Coalesces the calls made in one tick (list() makes hundreds) into one socket write instead of one each. */
  private corkUntilNextTick(): void {
    const socket = this.socket;
    if (socket === undefined || this.corked) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }
}

/** The systemd adapter: talks D-Bus (dbus-next) to the user's service manager; errors are mapped in bus-errors.ts. */
import type { Socket } from "node:net";
import { Message, MessageType, Variant, sessionBus, type MessageBus } from "dbus-next";
import { AppError, JobTimeoutError, ManagerUnreachableError, SystemdError } from "../errors.js";
import { BusError, describe, translateBusError, whyConnectFailed } from "./bus-errors.js";
import { isRunning, type JobOptions, type JobResult, type RunState, type SystemdManager, type UnitState } from "./types.js";

const SYSTEMD_NAME = "org.freedesktop.systemd1";
const MANAGER_PATH = "/org/freedesktop/systemd1";
const MANAGER_IFACE = "org.freedesktop.systemd1.Manager";
const UNIT_PATH_PREFIX = "/org/freedesktop/systemd1/unit/";
const UNIT_IFACE = "org.freedesktop.systemd1.Unit";
const SERVICE_IFACE = "org.freedesktop.systemd1.Service";
const PROPERTIES_IFACE = "org.freedesktop.DBus.Properties";
const PEER_IFACE = "org.freedesktop.DBus.Peer";
const DBUS_NAME = "org.freedesktop.DBus";
const DBUS_PATH = "/org/freedesktop/DBus";
const DBUS_IFACE = "org.freedesktop.DBus";
const JOB_REMOVED_MATCH =
  `type='signal',sender='${SYSTEMD_NAME}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;

const KNOWN_JOB_RESULTS: ReadonlySet<string> = new Set<JobResult>([
  "done", "canceled", "timeout", "failed", "dependency", "skipped",
]);

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** The D-Bus reference implementation's default reply timeout. */
const DEFAULT_CALL_TIMEOUT_MS = 25_000;
const DEFAULT_JOB_TIMEOUT_MS = 60_000;

/** Options of connectSystemd. */
export interface ConnectOptions {
  /** Deadline for the socket, the auth handshake, Hello and a first Ping of the manager (5 s). */
  connectTimeoutMs?: number;
  /** Deadline for the reply to each method call (25 s). */
  callTimeoutMs?: number;
}

/** Connects to the user's systemd manager over its session bus; throws ManagerUnreachableError when it cannot. */
export async function connectSystemd(
  env: NodeJS.ProcessEnv = process.env,
  opts: ConnectOptions = {},
): Promise<SystemdManager> {
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
  const manager = new DbusSystemdManager(bus, address, opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  try {
    await manager.handshake(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  } catch (err) {
    manager.destroy();
    throw err;
  }
  return manager;
}

function busAddress(env: NodeJS.ProcessEnv): string | undefined {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
  return undefined;
}

/** dbus-next keeps its socket private; we need it to see the bus close and to tear down a stalled connect. */
function socketOf(bus: MessageBus): Socket | undefined {
  return (bus as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
}

interface Pending {
  reject(err: Error): void;
}

interface JobWaiter {
  resolve(result: JobResult): void;
  reject(err: Error): void;
}

class DbusSystemdManager implements SystemdManager {
  private closed = false;
  /** Set once Hello is answered; before that, a dropped socket means the bus refused us. */
  private connected = false;
  private closeReason: string | undefined;
  private readonly pending = new Set<Pending>();
  private subscribed: Promise<void> | undefined;
  /** Several callers can wait on one path: systemd hands a second StartUnit the job already queued. */
  private readonly jobWaiters = new Map<string, Set<JobWaiter>>();
  /** JobRemoved results that arrived before the job's path was known to its caller. */
  private readonly earlyJobResults = new Map<string, string>();
  private jobCallsInFlight = 0;
  private corked = false;
  private readonly socket: Socket | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly address: string,
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
    });
    bus.on("message", (msg: Message) => this.onMessage(msg));
  }

  /** Waits for the socket, auth and Hello, then pings the manager so a bus without systemd fails here. */
  async handshake(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ManagerUnreachableError(this.address, `no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const entry: Pending = { reject: () => undefined };
    const connected = new Promise<void>((resolve, reject) => {
      entry.reject = reject;
      this.pending.add(entry);
      this.bus.once("connect", () => resolve());
    });
    try {
      await Promise.race([connected, deadline]);
      await Promise.race([this.call(MANAGER_PATH, PEER_IFACE, "Ping", "", [], "Ping the manager"), deadline]);
    } finally {
      clearTimeout(timer);
      this.pending.delete(entry);
    }
  }

  start(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.runJob("StartUnit", unit, opts);
  }

  stop(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.runJob("StopUnit", unit, opts);
  }

  restart(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.runJob("RestartUnit", unit, opts);
  }

  reloadUnit(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.runJob("ReloadUnit", unit, opts);
  }

  async properties(unit: string, names: readonly string[]): Promise<Record<string, unknown>> {
    const path = unitObjectPath(unit);
    const values = await Promise.all(
      names.map(async (prop) => {
        const iface = UNIT_PROPERTIES.has(prop) ? UNIT_IFACE : SERVICE_IFACE;
        const [v] = await this.call(path as string, PROPERTIES_IFACE, "Get", "ss", [iface, prop], `Get ${prop} of ${unit}`);
        return [prop, unwrapProperty(v)] as const;
      }),
    );
    return Object.fromEntries(values);
  }

  async enable(units: string[]): Promise<void> {
    // runtime=false: persist in ~/.config; force=true: replace a stale symlink that points elsewhere.
    await this.call(MANAGER_PATH, MANAGER_IFACE, "EnableUnitFiles", "asbb", [units, false, true], `EnableUnitFiles ${units.join(" ")}`);
  }

  async disable(units: string[]): Promise<void> {
    await this.call(MANAGER_PATH, MANAGER_IFACE, "DisableUnitFiles", "asb", [units, false], `DisableUnitFiles ${units.join(" ")}`);
  }

  async reload(): Promise<void> {
    // systemd defers this reply until the reload has finished, so units read after it are the new ones.
    await this.call(MANAGER_PATH, MANAGER_IFACE, "Reload", "", [], "Reload");
  }

  async resetFailed(unit: string): Promise<void> {
    try {
      await this.call(MANAGER_PATH, MANAGER_IFACE, "ResetFailedUnit", "s", [unit], `ResetFailedUnit ${unit}`);
    } catch (err) {
      // A unit that is not loaded has no failed state to reset.
      if (err instanceof SystemdError && err.busName === BusError.NoSuchUnit) return;
      throw err;
    }
  }

  async list(patterns: string[]): Promise<UnitState[]> {
    const [rows] = await this.call(
      MANAGER_PATH, MANAGER_IFACE, "ListUnitsByPatterns", "asas", [[], patterns],
      `ListUnitsByPatterns ${patterns.join(" ")}`,
    );
    const states = await Promise.all(
      (rows as ListUnitsRow[]).map(async ([name, , loadState, activeState, subState, , path]) => {
        try {
          return await this.readState(name, path, { loadState, activeState, subState });
        } catch (err) {
          // The unit was collected between the listing and the property reads: it is no longer in memory.
          if (err instanceof SystemdError && (err.busName === BusError.NoSuchUnit || err.busName === BusError.UnknownObject)) {
            return undefined;
          }
          throw err;
        }
      }),
    );
    return states.filter((s): s is UnitState => s !== undefined);
  }

  async state(unit: string): Promise<UnitState> {
    return this.readState(unit, unitObjectPath(unit));
  }

  async runState(unit: string): Promise<RunState> {
    const path = unitObjectPath(unit);
    const always = knownServiceProperties(unit);
    const [activeState, subState, mainPid, nRestarts] = await Promise.all([
      this.getProperty(path, unit, UNIT_IFACE, "ActiveState"),
      this.getProperty(path, unit, UNIT_IFACE, "SubState"),
      this.serviceProperty(path, unit, always, "MainPID"),
      this.serviceProperty(path, unit, always, "NRestarts"),
    ]);
    // How the main process last ended matters only once it is not running; a running one has these fixed.
    const known = knownServiceProperties(unit, { activeState: String(activeState), subState: String(subState) });
    const [result, execMainStatus, execMainCode] = await Promise.all(
      (["Result", "ExecMainStatus", "ExecMainCode"] as const).map((prop) => this.serviceProperty(path, unit, known, prop)),
    );
    return {
      name: unit,
      activeState: String(activeState),
      subState: String(subState),
      mainPid: Number(mainPid),
      nRestarts: Number(nRestarts),
      result: String(result),
      execMainStatus: Number(execMainStatus),
      execMainCode: Number(execMainCode),
    };
  }

  async unitFileState(unit: string): Promise<string> {
    try {
      const [state] = await this.call(MANAGER_PATH, MANAGER_IFACE, "GetUnitFileState", "s", [unit], `GetUnitFileState ${unit}`);
      return state as string;
    } catch (err) {
      if (err instanceof SystemdError && (err.busName === BusError.NoSuchUnit || err.busName === BusError.FileNotFound)) {
        return "not-found";
      }
      throw err;
    }
  }

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
    for (const waiters of this.jobWaiters.values()) for (const w of waiters) w.reject(err);
    this.jobWaiters.clear();
    this.earlyJobResults.clear();
  }

  private async call(
    path: string, iface: string, member: string, signature: string, body: unknown[], action: string,
    destination: string = SYSTEMD_NAME,
  ): Promise<unknown[]> {
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

  /** Subscribe once per connection, with the match rule in place first, so no JobRemoved is lost. */
  private ensureSubscribed(): Promise<void> {
    this.subscribed ??= (async () => {
      await this.call(DBUS_PATH, DBUS_IFACE, "AddMatch", "s", [JOB_REMOVED_MATCH], "AddMatch JobRemoved", DBUS_NAME);
      await this.call(MANAGER_PATH, MANAGER_IFACE, "Subscribe", "", [], "Subscribe");
    })().catch((err: unknown) => {
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  private async runJob(method: "StartUnit" | "StopUnit" | "RestartUnit" | "ReloadUnit", unit: string, opts: JobOptions = {}): Promise<JobResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    const started = Date.now();
    await this.ensureSubscribed();
    let jobPath: string;
    this.jobCallsInFlight++;
    try {
      const [path] = await this.call(MANAGER_PATH, MANAGER_IFACE, method, "ss", [unit, opts.mode ?? "replace"], `${method} ${unit}`);
      jobPath = path as string;
    } catch (err) {
      throw await this.unlessShuttingDown(err);
    } finally {
      this.jobCallsInFlight--;
    }
    // No await between the reply and here: a JobRemoved parsed from the same socket read is already buffered.
    return this.waitForJob(jobPath, unit, method, Math.max(0, timeoutMs - (Date.now() - started)), timeoutMs);
  }

  /**
   * A manager that is stopping refuses a job as "destructive" (its own stop jobs are queued): that is the
   * manager going away, not a fault of the unit. Otherwise `err` as it was.
   */
  private async unlessShuttingDown(err: unknown): Promise<unknown> {
    if (!(err instanceof SystemdError) || err.busName !== BusError.TransactionIsDestructive) return err;
    const state = await this.call(MANAGER_PATH, PROPERTIES_IFACE, "Get", "ss", [MANAGER_IFACE, "SystemState"], "Get SystemState")
      .then(([v]) => (v as Variant).value as string, (e: unknown) => (e instanceof ManagerUnreachableError ? "stopping" : ""));
    return state === "stopping" ? new ManagerUnreachableError(this.address, `${err.message} (the manager is shutting down)`) : err;
  }

  private waitForJob(jobPath: string, unit: string, method: string, remainingMs: number, timeoutMs: number): Promise<JobResult> {
    // Kept, not taken: another call still awaiting its reply may have been handed the same job.
    const early = this.earlyJobResults.get(jobPath);
    // Results of other clients' jobs are only worth keeping while one of our own job calls awaits its reply.
    if (this.jobCallsInFlight === 0) this.earlyJobResults.clear();
    if (early !== undefined) return Promise.resolve(toJobResult(early));
    return new Promise<JobResult>((resolve, reject) => {
      const waiters = this.jobWaiters.get(jobPath) ?? new Set<JobWaiter>();
      this.jobWaiters.set(jobPath, waiters);
      const waiter: JobWaiter = {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        if (waiters.size === 0) this.jobWaiters.delete(jobPath);
        reject(new JobTimeoutError(
          `${method} ${unit}: job ${jobPath} did not finish within ${timeoutMs} ms`,
          unit,
          timeoutMs,
          `see \`systemctl --user status ${unit}\``,
        ));
      }, remainingMs);
      waiters.add(waiter);
    });
  }

  private onMessage(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL || msg.interface !== MANAGER_IFACE || msg.member !== "JobRemoved") return;
    const [, jobPath, , result] = msg.body as [number, string, string, string];
    const waiters = this.jobWaiters.get(jobPath);
    this.jobWaiters.delete(jobPath);
    for (const w of waiters ?? []) w.resolve(toJobResult(result));
    if (this.jobCallsInFlight > 0) this.earlyJobResults.set(jobPath, result);
  }

  /** One property, unwrapped. Single Gets beat GetAll: GetAll(Service) marshals ~300 properties that dbus-next then has to parse. */
  private async getProperty(path: string, unit: string, iface: string, prop: string): Promise<unknown> {
    const [v] = await this.call(path, PROPERTIES_IFACE, "Get", "ss", [iface, prop], `Get ${prop} of ${unit}`);
    return unwrap(v);
  }

  /** A service property, from `known` when the unit's state fixes it, else asked of the manager. */
  private serviceProperty(path: string, unit: string, known: ServiceProperties, prop: keyof ServiceProperties): Promise<unknown> {
    const value = known[prop];
    return value !== undefined ? Promise.resolve(value) : this.getProperty(path, unit, SERVICE_IFACE, prop);
  }

  private async readState(name: string, path: string, listed?: Pick<UnitState, "loadState" | "activeState" | "subState">): Promise<UnitState> {
    const get = (iface: string, prop: string): Promise<unknown> => this.getProperty(path, name, iface, prop);
    // Without a listing the state is unknown, and everything is asked in one round trip.
    const known = knownServiceProperties(name, listed);
    const service = (prop: keyof ServiceProperties): Promise<unknown> => this.serviceProperty(path, name, known, prop);
    const [loadState, activeState, subState, unitFileState, mainPid, nRestarts, result, execMainStatus, execMainCode] = await Promise.all([
      listed?.loadState ?? get(UNIT_IFACE, "LoadState"),
      listed?.activeState ?? get(UNIT_IFACE, "ActiveState"),
      listed?.subState ?? get(UNIT_IFACE, "SubState"),
      get(UNIT_IFACE, "UnitFileState"),
      service("MainPID"),
      service("NRestarts"),
      service("Result"),
      service("ExecMainStatus"),
      service("ExecMainCode"),
    ]);
    return {
      name,
      loadState: String(loadState),
      activeState: String(activeState),
      subState: String(subState),
      mainPid: Number(mainPid),
      nRestarts: Number(nRestarts),
      result: String(result),
      unitFileState: String(unitFileState),
      execMainStatus: Number(execMainStatus),
      execMainCode: Number(execMainCode),
    };
  }
}

/**
 * The manager's object path of a unit, as systemd spells it (bus_label_escape): every byte but A-Z, a-z
 * and (past the first) 0-9 becomes _ and two hex digits. The manager loads a unit asked for by path, as
 * LoadUnit would, so reading its properties takes one round trip instead of two (systemctl does the same).
 */
export function unitObjectPath(unit: string): string {
  if (unit === "") return `${UNIT_PATH_PREFIX}_`;
  let label = "";
  for (const [i, byte] of Buffer.from(unit, "utf8").entries()) {
    const c = String.fromCharCode(byte);
    label += /[A-Za-z]/.test(c) || (i > 0 && /[0-9]/.test(c)) ? c : `_${byte.toString(16).padStart(2, "0")}`;
  }
  return UNIT_PATH_PREFIX + label;
}

/** The service properties readState asks for; undefined means "ask the manager". */
interface ServiceProperties {
  MainPID?: number;
  NRestarts?: number;
  Result?: string;
  ExecMainStatus?: number;
  ExecMainCode?: number;
}

/**
 * Service properties that a unit's state already fixes, so that they need not be asked of each unit
 * (every Get is a round trip, and 50 units cost ~25 ms per property): a unit that is no service has
 * none; systemd resets Result to `success` and the main process's exit status to 0 when it starts a
 * service, so a running one has exactly those; an inactive or failed one has no main PID. Without a
 * state (not read yet) only the first rule applies.
 */
function knownServiceProperties(name: string, state?: Pick<UnitState, "activeState" | "subState">): ServiceProperties {
  if (!name.endsWith(".service")) return { MainPID: 0, NRestarts: 0, Result: "", ExecMainStatus: 0, ExecMainCode: 0 };
  if (state === undefined) return {};
  if (isRunning(state)) return { Result: "success", ExecMainStatus: 0, ExecMainCode: 0 };
  if (state.activeState === "inactive" || state.activeState === "failed") return { MainPID: 0 };
  return {};
}

/** One row of ListUnitsByPatterns, `a(ssssssouso)`. */
type ListUnitsRow = [
  name: string, description: string, loadState: string, activeState: string, subState: string,
  following: string, path: string, jobId: number, jobType: string, jobPath: string,
];

/** Properties read through org.freedesktop.systemd1.Unit; every other name is asked of the Service interface. */
const UNIT_PROPERTIES: ReadonlySet<string> = new Set([
  "CanReload", "CanStart", "CanStop", "ActiveState", "SubState", "LoadState", "Id", "Description",
  "DropInPaths", "FragmentPath", "NeedDaemonReload", "UnitFileState",
]);

// systemd's "no limit" is UINT64_MAX; a Number would round it, and limits show it as "infinity".
const UINT64_MAX = 2n ** 64n - 1n;

function unwrapProperty(value: unknown): unknown {
  const v = value instanceof Variant ? (value.value as unknown) : value;
  if (typeof v === "bigint") return v === UINT64_MAX ? "infinity" : Number(v);
  return v;
}

function unwrap(value: unknown): unknown {
  const v = value instanceof Variant ? (value.value as unknown) : value;
  return typeof v === "bigint" ? Number(v) : v;
}

/** systemd has results the contract leaves out (`assert`, `unsupported`, `collected`, `once`, ...): all are failures to start. */
function toJobResult(result: string): JobResult {
  return KNOWN_JOB_RESULTS.has(result) ? (result as JobResult) : "failed";
}

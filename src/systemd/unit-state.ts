/** Reading units' state and properties, with Variants and BigInts unwrapped, in as few round trips as the state allows. */
import { Variant } from "dbus-next";
import { SystemdError } from "../errors.js";
import { BusError } from "./bus-errors.js";
import { getPropertyCall, managerCall, SERVICE_IFACE, UNIT_IFACE, type BusCaller } from "./methods.js";
import { unitObjectPath } from "./object-path.js";
import { isRunning, type RunState, type UnitState } from "./types.js";

/** Reads units' state over one connection; each method is the SystemdManager method of the same name. */
export class UnitStateReader {
  constructor(private readonly bus: BusCaller) {}

  async properties(unit: string, names: readonly string[]): Promise<Record<string, unknown>> {
    const path = unitObjectPath(unit);
    const values = await Promise.all(
      names.map(async (prop) => {
        const iface = UNIT_PROPERTIES.has(prop) ? UNIT_IFACE : SERVICE_IFACE;
        const [v] = await this.bus.call(getPropertyCall(path, iface, prop, `Get ${prop} of ${unit}`));
        return [prop, unwrapProperty(v)] as const;
      }),
    );
    return Object.fromEntries(values);
  }

  async list(patterns: string[]): Promise<UnitState[]> {
    const [rows] = await this.bus.call(managerCall("ListUnitsByPatterns", [[], patterns], `ListUnitsByPatterns ${patterns.join(" ")}`));
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

  state(unit: string): Promise<UnitState> {
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
    return { name: unit, ...typedState({ activeState, subState, mainPid, nRestarts, result, execMainStatus, execMainCode }) };
  }

  /** One property, unwrapped. Single Gets beat GetAll: GetAll(Service) marshals ~300 properties that dbus-next then has to parse. */
  private async getProperty(path: string, unit: string, iface: string, prop: string): Promise<unknown> {
    const [v] = await this.bus.call(getPropertyCall(path, iface, prop, `Get ${prop} of ${unit}`));
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
    const [loadState, activeState, subState, mainPid, nRestarts, result, execMainStatus, execMainCode] = await Promise.all([
      listed?.loadState ?? get(UNIT_IFACE, "LoadState"),
      listed?.activeState ?? get(UNIT_IFACE, "ActiveState"),
      listed?.subState ?? get(UNIT_IFACE, "SubState"),
      service("MainPID"),
      service("NRestarts"),
      service("Result"),
      service("ExecMainStatus"),
      service("ExecMainCode"),
    ]);
    return { name, loadState: String(loadState), ...typedState({ activeState, subState, mainPid, nRestarts, result, execMainStatus, execMainCode }) };
  }
}

type StateFields = Omit<RunState, "name">;

/** A run state's fields from the manager's answers (unwrapped, still untyped). */
function typedState(v: Record<keyof StateFields, unknown>): StateFields {
  return {
    activeState: String(v.activeState),
    subState: String(v.subState),
    mainPid: Number(v.mainPid),
    nRestarts: Number(v.nRestarts),
    result: String(v.result),
    execMainStatus: Number(v.execMainStatus),
    execMainCode: Number(v.execMainCode),
  };
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
  "DropInPaths", "FragmentPath", "NeedDaemonReload", "UnitFileState", "StartLimitBurst", "StartLimitIntervalUSec",
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

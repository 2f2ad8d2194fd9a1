/** The SystemdManager of the user's service manager over D-Bus: a connection, a job tracker and a unit-state reader. */
import { SystemdError } from "../errors.js";
import { BusError } from "./bus-errors.js";
import { openBus, type BusConnection, type ConnectOptions } from "./connection.js";
import { JobTracker } from "./jobs.js";
import { Variant } from "dbus-next";
import {
  ADD_MATCH_UNIT_NEW, ADD_MATCH_UNIT_PROPERTIES, ADD_MATCH_UNIT_REMOVED, getPropertyCall, MANAGER_IFACE, MANAGER_PATH, managerCall,
  PROPERTIES_IFACE, unitChangesMatch,
} from "./methods.js";
import { unitObjectPath, unitOfObjectPath } from "./object-path.js";
import { TEMPLATE_PREFIX, type JobOptions, type JobResult, type RunState, type SystemdManager, type UnitEvents, type UnitState } from "./types.js";
import { UnitFileStateCache } from "./unit-file-cache.js";
import { UnitStateReader } from "./unit-state.js";

/** Options of connectSystemd: the connection's, and where unitFileStates keeps the manager's answers between runs (unit-file-cache.ts; none: asked each time). */
export interface SystemdOptions extends ConnectOptions {
  unitFileCache?: string;
}

/** Connects to the user's systemd manager over its session bus; throws ManagerUnreachableError when it cannot. */
export async function connectSystemd(
  env: NodeJS.ProcessEnv = process.env,
  opts: SystemdOptions = {},
): Promise<SystemdManager> {
  return new DbusSystemdManager(await openBus(env, opts), opts.unitFileCache);
}

class DbusSystemdManager implements SystemdManager {
  private readonly jobs: JobTracker;
  private readonly units: UnitStateReader;
  /** onUnitChange's callbacks, by the unit's object path (as PropertiesChanged names it) and by unit name (JobRemoved). */
  private readonly changeByPath = new Map<string, Set<() => void>>();
  private readonly changeByUnit = new Map<string, Set<() => void>>();
  private dispatchingUnitChanges = false;
  private readonly fileStates: UnitFileStateCache;

  constructor(private readonly bus: BusConnection, unitFileCache: string | undefined) {
    this.jobs = new JobTracker(bus);
    this.units = new UnitStateReader(bus);
    const source = { unitPath: () => this.unitPath(), version: () => this.version(), unitFileState: (u: string) => this.unitFileState(u) };
    this.fileStates = new UnitFileStateCache(source, unitFileCache, TEMPLATE_PREFIX);
    bus.onSignal(MANAGER_IFACE, "JobRemoved", (body) => {
      const [, jobPath, unit, result] = body as [number, string, string, string];
      this.jobs.jobRemoved(jobPath, result);
      for (const changed of this.changeByUnit.get(unit) ?? []) changed();
    });
    bus.onLost((err) => this.jobs.fail(err));
  }

  start(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.jobs.run("start", unit, opts);
  }

  stop(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.jobs.run("stop", unit, opts);
  }

  restart(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.jobs.run("restart", unit, opts);
  }

  reloadUnit(unit: string, opts?: JobOptions): Promise<JobResult> {
    return this.jobs.run("reloadUnit", unit, opts);
  }

  async enable(units: string[], opts: { runtime?: boolean } = {}): Promise<void> {
    // runtime=false: persist in ~/.config; force=true: replace a stale symlink that points elsewhere.
    await this.bus.call(managerCall("EnableUnitFiles", [units, opts.runtime === true, true], `EnableUnitFiles ${units.join(" ")}`));
  }

  async disable(units: string[], opts: { runtime?: boolean } = {}): Promise<void> {
    await this.bus.call(managerCall("DisableUnitFiles", [units, opts.runtime === true], `DisableUnitFiles ${units.join(" ")}`));
  }

  async reload(): Promise<void> {
    // systemd defers this reply until the reload has finished, so units read after it are the new ones.
    await this.bus.call(managerCall("Reload", []));
  }

  async resetFailed(unit: string): Promise<void> {
    try {
      await this.bus.call(managerCall("ResetFailedUnit", [unit], `ResetFailedUnit ${unit}`));
    } catch (err) {
      // A unit that is not loaded has no failed state to reset.
      if (err instanceof SystemdError && err.busName === BusError.NoSuchUnit) return;
      throw err;
    }
  }

  async unitFileState(unit: string): Promise<string> {
    try {
      const [state] = await this.bus.call(managerCall("GetUnitFileState", [unit], `GetUnitFileState ${unit}`));
      return state as string;
    } catch (err) {
      if (err instanceof SystemdError && (err.busName === BusError.NoSuchUnit || err.busName === BusError.FileNotFound)) {
        return "not-found";
      }
      throw err;
    }
  }

  unitFileStates(units: readonly string[]): Promise<string[]> {
    return this.fileStates.states(units);
  }

  private async unitPath(): Promise<string[]> {
    const [v] = await this.bus.call(getPropertyCall(MANAGER_PATH, MANAGER_IFACE, "UnitPath", "Get UnitPath of the manager"));
    return (v instanceof Variant ? v.value : v) as string[];
  }

  version(): Promise<string> {
    return this.managerProperty("Version");
  }

  controlGroup(): Promise<string> {
    return this.managerProperty("ControlGroup");
  }

  private async managerProperty(name: string): Promise<string> {
    const [v] = await this.bus.call(getPropertyCall(MANAGER_PATH, MANAGER_IFACE, name, `Get ${name} of the manager`));
    return String(v instanceof Variant ? v.value : v);
  }

  properties(unit: string, names: readonly string[]): Promise<Record<string, unknown>> {
    return this.units.properties(unit, names);
  }

  list(patterns: string[]): Promise<UnitState[]> {
    return this.units.list(patterns);
  }

  async listUnitFiles(patterns: string[]): Promise<{ path: string; state: string }[]> {
    const [rows] = await this.bus.call(managerCall("ListUnitFilesByPatterns", [[], patterns], `ListUnitFilesByPatterns ${patterns.join(" ")}`));
    return (rows as [string, string][]).map(([path, state]) => ({ path, state }));
  }

  state(unit: string): Promise<UnitState> {
    return this.units.state(unit);
  }

  runState(unit: string): Promise<RunState> {
    return this.units.runState(unit);
  }

  async watch(events: UnitEvents): Promise<void> {
    this.bus.onSignal(PROPERTIES_IFACE, "PropertiesChanged", (_body, path) => {
      const unit = unitOfObjectPath(path);
      if (unit) events.changed(unit);
    });
    this.bus.onSignal(MANAGER_IFACE, "UnitNew", ([unit]) => events.changed(unit as string));
    this.bus.onSignal(MANAGER_IFACE, "UnitRemoved", ([unit]) => events.removed(unit as string));
    this.bus.onSignal(MANAGER_IFACE, "JobRemoved", ([, , unit]) => events.changed(unit as string));
    this.bus.onLost((err) => events.lost(err));
    // The match rules first: Subscribe starts the signals, and none may be missed in between.
    await Promise.all([ADD_MATCH_UNIT_PROPERTIES, ADD_MATCH_UNIT_NEW, ADD_MATCH_UNIT_REMOVED].map((m) => this.bus.call(m)));
    await this.jobs.subscribe();
  }

  async onUnitChange(unit: string, changed: () => void): Promise<() => void> {
    const path = unitObjectPath(unit);
    if (!this.dispatchingUnitChanges) {
      this.dispatchingUnitChanges = true;
      this.bus.onSignal(PROPERTIES_IFACE, "PropertiesChanged", (body, objectPath) => {
        const [, props] = body as [string, Record<string, unknown>];
        // Changes of the run state only: a unit's Job, timestamps and the like change on their own too.
        if (!("ActiveState" in props) && !("SubState" in props)) return;
        for (const notify of this.changeByPath.get(objectPath) ?? []) notify();
      });
    }
    // A match rule of this unit's own, while it is watched: a roll would otherwise parse the signals of
    // every unit it restarts, all through each one's stop and start.
    await this.bus.call(unitChangesMatch(path, unit, "AddMatch"));
    const entries = [[this.changeByPath, path], [this.changeByUnit, unit]] as const;
    for (const [map, key] of entries) map.set(key, (map.get(key) ?? new Set()).add(changed));
    try {
      await this.jobs.subscribe();
    } catch (err) {
      this.stopUnitChanges(unit, path, changed);
      throw err;
    }
    return () => this.stopUnitChanges(unit, path, changed);
  }

  private stopUnitChanges(unit: string, path: string, changed: () => void): void {
    for (const [map, key] of [[this.changeByPath, path], [this.changeByUnit, unit]] as const) {
      const set = map.get(key);
      set?.delete(changed);
      if (set?.size === 0) map.delete(key);
    }
    // Not awaited: the wait is over; a connection closing meanwhile drops the rule with it.
    this.bus.call(unitChangesMatch(path, unit, "RemoveMatch")).catch(() => {});
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

/** What a watch of the manager's units reports (`SystemdManager.watch`), by unit name, of every unit of the manager. */
export interface UnitEvents {
  /** Its properties changed (PropertiesChanged), a job of it ended (JobRemoved), or it was loaded (UnitNew): read it again. */
  changed(unit: string): void;
  /** It was collected from memory (UnitRemoved): inactive, as a unit that is not loaded is. */
  removed(unit: string): void;
  /** The connection was lost or closed (ManagerUnreachableError): no signal will come any more. */
  lost(err: Error): void;
}

/** What core logic needs from the systemd user manager; `manager.ts` implements it, tests fake it. */

/** The outcome of a job as the manager reports it in `JobRemoved`. */
export type JobResult = "done" | "canceled" | "timeout" | "failed" | "dependency" | "skipped";

/**
 * A unit's state, with D-Bus Variants and BigInts already unwrapped. Whether it is enabled is not in it: a
 * loaded unit's UnitFileState property can be stale, so that is asked fresh (SystemdManager.unitFileState),
 * and reading the property as well cost every listed unit a round trip for nothing.
 */
export interface UnitState {
  /** Full unit name, e.g. `agent-gateway@liam.service`. */
  name: string;
  loadState: string;
  activeState: string;
  subState: string;
  /** 0 when no main process runs. */
  mainPid: number;
  nRestarts: number;
  /** `success`, `exit-code`, `signal`, `start-limit-hit`, ... */
  result: string;
  /** ExecMainStatus: exit code or signal number of the last main process. */
  execMainStatus: number;
  /** ExecMainCode: 1 exited, 2 killed, 3 dumped (CLD_* codes). */
  execMainCode: number;
}

/**
 * What a wait for a unit to come up needs of it: whether it runs, which process, how often the manager
 * restarted it, and how its main process last ended. Cheaper to read than a whole UnitState.
 */
export type RunState = Pick<UnitState, "name" | "activeState" | "subState" | "mainPid" | "nRestarts" | "result" | "execMainStatus" | "execMainCode">;

/** Active and running: the state a gateway serves in. */
export function isRunning(s: Pick<UnitState, "activeState" | "subState">): boolean {
  return s.activeState === "active" && s.subState === "running";
}

export interface JobOptions {
  /** Deadline for the whole job from the call on (subscription, method call, its `JobRemoved`); past it, rejects with JobTimeoutError. */
  timeoutMs?: number;
  /** Job mode, `replace` unless told. */
  mode?: "replace" | "fail" | "isolate";
}

export interface SystemdManager {
  /** StartUnit, then wait for its job. A `done` does not prove the unit stays up. */
  start(unit: string, opts?: JobOptions): Promise<JobResult>;
  stop(unit: string, opts?: JobOptions): Promise<JobResult>;
  restart(unit: string, opts?: JobOptions): Promise<JobResult>;
  /** EnableUnitFiles for these units (instances of a template included); with `runtime` until the runtime directory goes (`enable --runtime`). */
  enable(units: string[], opts?: { runtime?: boolean }): Promise<void>;
  /** DisableUnitFiles: the persistent links, or with `runtime` those under the runtime directory (`enable --runtime`). */
  disable(units: string[], opts?: { runtime?: boolean }): Promise<void>;
  /** Manager.Reload (daemon-reload). */
  reload(): Promise<void>;
  /** ResetFailedUnit; a unit that is not loaded is no error. */
  resetFailed(unit: string): Promise<void>;
  /** State of each unit in memory that matches a pattern (ListUnitsByPatterns), with service properties. */
  list(patterns: string[]): Promise<UnitState[]>;
  /**
   * Unit files on disk that match a pattern (ListUnitFilesByPatterns), loaded or not: each path and its
   * state (`enabled`, `disabled`, `indirect` for a template, ...). Enabled instances of a template are
   * not among them: they are symlinks in `.wants/` directories, and loaded (so `list` finds them).
   */
  listUnitFiles(patterns: string[]): Promise<{ path: string; state: string }[]>;
  /** State of one unit, loading it if needed. */
  state(unit: string): Promise<UnitState>;
  /** The part of a unit's state a wait for it needs: one round trip while it runs (four Gets), two otherwise. */
  runState(unit: string): Promise<RunState>;
  /** GetUnitFileState: `enabled`, `disabled`, ...; for a template instance, whether its symlink exists. */
  unitFileState(unit: string): Promise<string>;
  /**
   * unitFileState of each unit, in order; the template's units answered from a cache kept while the unit
   * directories are unchanged (unit-file-cache.ts), for the verbs that ask it of every profile. A check
   * that guards an action (`start` of a disabled profile) asks unitFileState.
   */
  unitFileStates(units: readonly string[]): Promise<string[]>;
  /** ReloadUnit (the unit's ExecReload=), then wait for its job. Check `properties(unit, ["CanReload"])` first. */
  reloadUnit(unit: string, opts?: JobOptions): Promise<JobResult>;
  /**
   * Selected properties of a unit, loading it if needed, with Variants and BigInts unwrapped (a value
   * past 2^53, such as "infinity" limits, becomes the string "infinity"). Names of the Unit interface
   * (`CanReload`, `ActiveState`, ...) and of the Service interface (`MemoryMax`, `ControlGroup`, ...).
   */
  properties(unit: string, names: readonly string[]): Promise<Record<string, unknown>>;
  /** The manager's Version property, e.g. `252.39-1~deb12u1` (its leading number is the systemd release). */
  version(): Promise<string>;
  /** The manager's own root cgroup (its ControlGroup property), e.g. `/user.slice/user-1000.slice/user@1000.service`; "" when it has none. */
  controlGroup(): Promise<string>;
  /**
   * Reports changes of units as the manager signals them (Subscribe; PropertiesChanged of the unit
   * objects, UnitNew, UnitRemoved, JobRemoved) until the connection closes; resolves once subscribed.
   */
  watch(events: UnitEvents): Promise<void>;
  /**
   * Calls `changed` whenever the manager signals a change of `unit` (PropertiesChanged of its object, a
   * JobRemoved of its job) until the returned function is called; resolves once subscribed, so that a read
   * after it misses no change. A wait still reads now and then: a signal can be missed (a lost connection).
   */
  onUnitChange(unit: string, changed: () => void): Promise<() => void>;
  /** Close the bus connection; node does not exit while it is open. */
  close(): Promise<void>;
}

/** What the names of the template's units start with. */
export const TEMPLATE_PREFIX = "agent-gateway@";

/** The unit name of a profile's instance. */
export function unitName(profile: string): string {
  return `${TEMPLATE_PREFIX}${profile}.service`;
}

/** The glob that matches every profile's instance. */
export const UNIT_PATTERN = unitName("*");
/** The template unit's file name. */
export const TEMPLATE_UNIT = unitName("");

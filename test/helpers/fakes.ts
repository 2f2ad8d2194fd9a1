import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createContext, type Context } from "../../src/core/context.js";
import type { Config } from "../../src/config.js";
import { DEFAULT_CONFIG, saveConfig } from "../../src/config.js";
import { resolvePaths } from "../../src/paths.js";
import { portHolder, type PortClaim, type PortHolder, type PortOwners } from "../../src/core/port-owner.js";
import type { Listener, PortInspector } from "../../src/ports/types.js";
import type { ProcessInspector } from "../../src/processes/inspector.js";
import type { ProbeTarget, ProbeVerdict, Prober } from "../../src/probe/types.js";
import type { JobResult, SystemdManager, RunState, UnitEvents, UnitState } from "../../src/systemd/types.js";

/** An in-memory systemd manager: units go active on start unless told to fail. */
export class FakeSystemd implements SystemdManager {
  units = new Map<string, UnitState>();
  enabled = new Set<string>();
  calls: string[] = [];
  /** Units whose start ends `done` but then fail, as a gateway that exits at once does. */
  crashing = new Set<string>();
  reloads = 0;
  /** Called after each start or restart, to script what the unit does then (crash, fail, ...). */
  onStart?: (unit: string, state: UnitState) => void;
  /** Called on each state() read, to script changes over time (a later crash, the restart count moving). */
  onState?: (unit: string, state: UnitState) => void;
  // Every start gets a PID of its own, as a real restart does.
  private lastPid = 1000;
  /** Main PIDs of earlier runs: those processes have exited, and their sockets with them. */
  exited = new Set<number>();

  private get(unit: string): UnitState {
    let s = this.units.get(unit);
    if (!s) {
      s = { name: unit, loadState: "loaded", activeState: "inactive", subState: "dead", mainPid: 0, nRestarts: 0, result: "success", execMainStatus: 0, execMainCode: 0 };
      this.units.set(unit, s);
    }
    return s;
  }
  async start(unit: string): Promise<JobResult> {
    this.calls.push(`start ${unit}`);
    const s = this.get(unit);
    if (s.mainPid > 0) this.exited.add(s.mainPid);
    if (this.crashing.has(unit)) Object.assign(s, { activeState: "failed", subState: "failed", result: "exit-code", execMainCode: 1, execMainStatus: 78, mainPid: 0 });
    else Object.assign(s, { activeState: "active", subState: "running", mainPid: ++this.lastPid, result: "success" });
    this.onStart?.(unit, s);
    return "done";
  }
  async restart(unit: string): Promise<JobResult> {
    this.calls.push(`restart ${unit}`);
    return this.start(unit);
  }
  async stop(unit: string): Promise<JobResult> {
    this.calls.push(`stop ${unit}`);
    const s = this.get(unit);
    if (s.mainPid > 0) this.exited.add(s.mainPid);
    Object.assign(s, { activeState: "inactive", subState: "dead", mainPid: 0 });
    return "done";
  }
  async enable(units: string[], opts: { runtime?: boolean } = {}): Promise<void> {
    for (const u of units) (opts.runtime ? this.runtimeEnabled : this.enabled).add(u);
    this.calls.push(`enable${opts.runtime ? " --runtime" : ""} ${units.join(" ")}`);
  }
  async disable(units: string[], opts: { runtime?: boolean } = {}): Promise<void> {
    for (const u of units) (opts.runtime ? this.runtimeEnabled : this.enabled).delete(u);
    this.calls.push(`disable${opts.runtime ? " --runtime" : ""} ${units.join(" ")}`);
  }
  async reload(): Promise<void> {
    this.reloads++;
  }
  async resetFailed(unit: string): Promise<void> {
    const s = this.units.get(unit);
    if (s && s.activeState === "failed") Object.assign(s, { activeState: "inactive", subState: "dead", result: "success" });
  }
  async list(): Promise<UnitState[]> {
    return [...this.units.values()].filter((s) => s.activeState !== "inactive").map((s) => ({ ...s }));
  }
  /** Unit files `listUnitFiles` reports (paths and states), whatever the patterns. */
  unitFiles: { path: string; state: string }[] = [];
  async listUnitFiles(): Promise<{ path: string; state: string }[]> {
    return this.unitFiles;
  }
  async state(unit: string): Promise<UnitState> {
    this.onState?.(unit, this.get(unit));
    return { ...this.get(unit) };
  }
  async runState(unit: string): Promise<RunState> {
    const { name, activeState, subState, mainPid, nRestarts, result, execMainStatus, execMainCode } = await this.state(unit);
    return { name, activeState, subState, mainPid, nRestarts, result, execMainStatus, execMainCode };
  }
  /** Units enabled under the runtime directory (`systemctl --user enable --runtime`): only a runtime disable removes them. */
  runtimeEnabled = new Set<string>();
  async unitFileState(unit: string): Promise<string> {
    return this.enabled.has(unit) ? "enabled" : this.runtimeEnabled.has(unit) ? "enabled-runtime" : "disabled";
  }
  unitFileStates(units: readonly string[]): Promise<string[]> {
    return Promise.all(units.map((u) => this.unitFileState(u)));
  }
  /** Properties `properties()` answers, per unit; CanReload is true unless set. */
  props = new Map<string, Record<string, unknown>>();
  /** Called on each reloadUnit, to script what a reload does. */
  onReload?: (unit: string, state: UnitState) => void;
  async reloadUnit(unit: string): Promise<JobResult> {
    this.calls.push(`reload ${unit}`);
    const s = this.get(unit);
    if (s.activeState !== "active") return "failed";
    this.onReload?.(unit, s);
    return "done";
  }
  async properties(unit: string, names: readonly string[]): Promise<Record<string, unknown>> {
    // What a unit without limits of its own reports under a user manager.
    const own: Record<string, unknown> = {
      CanReload: true, Type: "simple", MemoryMax: "infinity", CPUQuotaPerSecUSec: "infinity", TasksMax: 4915, RestartUSec: 2_000_000,
      // Which pids run in it is the test's to say (FakeProcs), whatever state the unit is in.
      ControlGroup: fakeControlGroup(unit),
      // The run state's own, as the manager has them.
      MainPID: this.get(unit).mainPid,
      ...this.props.get(unit),
    };
    return Object.fromEntries(names.map((n) => [n, own[n]]));
  }
  /** What `version()` answers. */
  managerVersion = "252.39-1~deb12u1";
  async version(): Promise<string> {
    return this.managerVersion;
  }
  /** What `controlGroup()` answers ("": none, so controllers are judged by the units' accounting). */
  managerCgroup = "";
  async controlGroup(): Promise<string> {
    return this.managerCgroup;
  }
  /** The watches made (`watch`): a test calls their `changed` and `removed` as the manager's signals would. */
  watchers: UnitEvents[] = [];
  async watch(events: UnitEvents): Promise<void> {
    this.watchers.push(events);
  }
  /** onUnitChange's callbacks, by unit: a test calls them as the manager's signals would (none come by themselves). */
  changeListeners = new Map<string, Set<() => void>>();
  async onUnitChange(unit: string, changed: () => void): Promise<() => void> {
    const set = this.changeListeners.get(unit) ?? new Set<() => void>();
    this.changeListeners.set(unit, set.add(changed));
    return () => set.delete(changed);
  }
  /** Tells the unit's onUnitChange callbacks that it changed, as the manager's PropertiesChanged would. */
  changed(unit: string): void {
    for (const notify of this.changeListeners.get(unit) ?? []) notify();
  }
  async close(): Promise<void> {}
}

/** A port inspector that reports exactly the listeners it is given. */
export class FakePorts implements PortInspector {
  constructor(readonly listeners = new Map<number, Listener>()) {}
  async listener(port: number): Promise<Listener | null> {
    return this.listeners.get(port) ?? null;
  }
  async holders(port: number): Promise<Listener[]> {
    const l = this.listeners.get(port);
    return l ? [l] : [];
  }
  async listeningPorts(): Promise<Set<number>> {
    return new Set(this.listeners.keys());
  }
  async bindable(port: number): Promise<boolean> {
    return !this.listeners.has(port);
  }
  async snapshot(): Promise<PortInspector> {
    return this;
  }
}

/** The ControlGroup the fake manager reports for a running unit. */
export function fakeControlGroup(unit: string | undefined): string {
  return unit === undefined ? "" : `/user.slice/user-1000.slice/user@1000.service/app.slice/${unit}`;
}

/** Processes whose cgroup the test names by unit (`cgroups`: pid → unit); none has a start time. */
export class FakeProcs implements ProcessInspector {
  cgroups = new Map<number, string>();
  async inCgroup(pid: number, controlGroup: string): Promise<boolean> {
    return controlGroup !== "" && controlGroup === fakeControlGroup(this.cgroups.get(pid));
  }
  async startedAtMs(): Promise<number | null> {
    return null;
  }
  /** The start-up environment of any pid, as the test wants it; by default none can be read. */
  environOf: (pid: number) => Map<string, string> | null = () => null;
  async environ(pid: number): Promise<Map<string, string> | null> {
    return this.environOf(pid);
  }
}

/**
 * Who holds a port, for the gates: a running unit's own gateway, unless the test put a listener on the
 * port in `ports` (one of a process the fake manager has not ended since); then the real rule decides,
 * with `procs` saying which unit's cgroup holds which pid.
 */
export class FakeOwners implements PortOwners {
  /** How often a gate asked: the roll gate must not ask on every probe. */
  asked = 0;
  readonly procs = new FakeProcs();
  constructor(private readonly ports: FakePorts, private readonly systemd: FakeSystemd) {}
  async holder(port: number, claim: PortClaim): Promise<PortHolder> {
    this.asked++;
    const l = this.ports.listeners.get(port);
    if (!l || (l.pid !== undefined && this.systemd.exited.has(l.pid))) return claim.mainPid ? { status: "own", pid: claim.mainPid } : { status: "free" };
    return portHolder(this.ports, this.procs, port, claim);
  }
}

/** A prober whose verdict per port is set by the test; healthy by default. `seen` records both kinds. */
export class FakeProber implements Prober {
  verdicts = new Map<number, ProbeVerdict>();
  seen: ProbeTarget[] = [];
  /** Scripted answers, asked first: a verdict, or undefined to fall back to `verdicts`. */
  respond?: (target: ProbeTarget) => ProbeVerdict | undefined;
  async http(target: ProbeTarget): Promise<ProbeVerdict> {
    this.seen.push(target);
    return this.respond?.(target) ?? this.verdicts.get(target.port) ?? { ok: true, reason: "ok", status: 200, latencyMs: 1 };
  }
  async tcp(target: ProbeTarget): Promise<ProbeVerdict> {
    const t = { ...target, kind: "tcp" as const };
    this.seen.push(t);
    return this.respond?.(t) ?? this.verdicts.get(target.port) ?? { ok: true, reason: "ok", latencyMs: 1 };
  }
}

/** A throwaway HOME with XDG dirs, an initialised config, and a Context wired to fakes. */
export async function fakeWorld(config: Partial<Config> = {}): Promise<{ ctx: Context; systemd: FakeSystemd; ports: FakePorts; owners: FakeOwners; prober: FakeProber; home: string; cleanup(): Promise<void> }> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-unit-"));
  const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"), XDG_STATE_HOME: path.join(home, ".local/state"), XDG_RUNTIME_DIR: path.join(home, "run"), PATH: process.env.PATH };
  const full = { ...DEFAULT_CONFIG, ...config };
  await saveConfig(resolvePaths(env), full);
  const systemd = new FakeSystemd();
  const ports = new FakePorts();
  const owners = new FakeOwners(ports, systemd);
  const prober = new FakeProber();
  const ctx = createContext({ env, json: true, systemd: async () => systemd, ports: async () => ports, owners: async () => owners, procs: async () => owners.procs, prober: async () => prober, progress: () => {} });
  return { ctx, systemd, ports, owners, prober, home, cleanup: () => fs.rm(home, { recursive: true, force: true }) };
}

/** Every file under `dir` with its content, for "nothing was written" checks. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const st = await fs.lstat(p);
      if (st.isSymbolicLink()) out[p] = `symlink to ${await fs.readlink(p)}`;
      else if (st.isDirectory()) {
        out[p + "/"] = (st.mode & 0o777).toString(8);
        await walk(p);
      } else out[p] = `${(st.mode & 0o777).toString(8)}:${await fs.readFile(p, "utf8")}`;
    }
  }
  await walk(dir);
  return out;
}

/** Runs `body` in a fresh temporary directory (named after `prefix`), removed afterwards. */
export async function inTempDir(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `ap-${prefix}-`));
  try {
    await body(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

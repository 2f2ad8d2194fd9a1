/**
 * `top`'s live data. A unit's state is read again only when the manager signals a change of it
 * (PropertiesChanged, UnitNew, UnitRemoved, JobRemoved after Subscribe), and the list of profiles when
 * the profiles' directory changes (inotify); neither is polled. What no signal carries is paced: memory
 * and CPU of the running units once per interval (two property Gets each, or /proc), each running
 * profile's probe at most once per `probeEveryMs` (each interval while it fails), and its pending
 * restart once per `pendingEveryMs` and whenever its `.env` changes (inotify on its directory).
 */
import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import { envFile } from "../../paths.js";
import type { Config } from "../../config.js";
import { probe, type ProbeTarget } from "../../probe/types.js";
import { listProfiles, readEnv } from "../../store/profiles.js";
import { realpathOr } from "../../store/symlinks.js";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { profileHealthTarget } from "../health-target.js";
import { inspectRunning, type ProfileStatusRunning } from "../inspect.js";
import { runningVsDisk } from "../pending-restart.js";
import { mapLimit, PROBE_CONCURRENCY } from "../sweep/pool.js";
import type { TopRow } from "./model.js";
import { cpuPercent, roundPercent, UnitUsage, type UsageSample } from "./usage.js";

/** How often `top` samples usage and probes. */
export interface FeedPace {
  /** Memory and CPU of each running unit, once per this (ms). */
  intervalMs: number;
  /** Each running, healthy profile's probe, at most once per this (ms); an unhealthy one's each interval. */
  probeEveryMs: number;
  /** Each running profile's pending-restart check (its environment against its `.env`), at most once per this (ms); also on each change of its state. */
  pendingEveryMs: number;
}

interface Tracked {
  row: TopRow;
  sampler: UnitUsage | null;
  usage: UsageSample | null;
  target: ProbeTarget | null;
  probedAtMs: number;
  /** When its pending restart was last judged; its state's reading judges it too. */
  pendingAtMs: number;
}

const PROFILE_UNIT = /^agent-gateway@(.+)\.service$/;
// Signals come in bursts (a restart sends a dozen): the changed units are read together, once.
const COALESCE_MS = 50;

/** What `top` draws from: this host's TopFeed, or the hosts' (fleet/top.ts). */
export interface RowFeed {
  /** Reads the rows once; with `live`, keeps them up to date, calling its `onChange` after each update. */
  start(live: boolean): Promise<void>;
  rows(): TopRow[];
  /** What keeps rows from being shown (a host that does not answer), one line each. */
  notes(): string[];
  stop(): void;
}

/** Makes a feed that calls `onChange` after each update and `onError` when it cannot go on. */
export type FeedMaker = (onChange: () => void, onError: (err: unknown) => void) => RowFeed;

/** The rows of every profile, kept up to date from the manager's signals; `onChange` is called after each update. */
export class TopFeed implements RowFeed {
  private readonly tracked = new Map<string, Tracked>();
  private readonly dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private relist = false;
  private dirWatch: FSWatcher | undefined;
  /** Live only: each profile's `.env` directory, so that `profiles set` without a restart shows as pending at once. */
  private envWatches: Map<string, { close(): void }> | undefined;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: Context,
    private readonly config: Config,
    private readonly pace: FeedPace,
    private readonly onChange: () => void,
    /** A read that failed (the manager went away): `top` ends with it. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Reads every profile once, probes and samples them; with `live`, subscribes first and keeps them up to date. */
  async start(live: boolean): Promise<void> {
    const started = (async () => {
      const sd = await this.ctx.systemd();
      if (live) {
        await sd.watch({
          changed: (unit) => this.unitChanged(unit),
          removed: (unit) => this.unitChanged(unit),
          // Rows that no signal updates any more would look current: `top` ends instead (exit 10).
          lost: (err) => void (this.stopped || this.onError(err)),
        });
        this.watchProfiles();
        this.envWatches = new Map();
      }
      await this.load(await listProfiles(this.ctx.paths));
      await this.paced();
    })();
    // Updates signalled meanwhile wait for the first reading.
    this.busy = started.catch(() => undefined);
    await started;
  }

  /** The rows as they stand. */
  rows(): TopRow[] {
    return [...this.tracked.values()].map((t) => t.row);
  }

  notes(): string[] {
    return [];
  }

  /** Stops every timer and watch; the bus connection is the context's to close. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.paceTimer);
    this.dirWatch?.close();
    for (const w of this.envWatches?.values() ?? []) w.close();
  }

  /**
   * `profiles remove` deletes a profile after its unit's last signal (and the manager may keep the unit
   * loaded): the profiles' directory is watched (inotify, its entries only) for profiles that come and go.
   */
  private watchProfiles(): void {
    try {
      this.dirWatch = watch(this.ctx.paths.profilesDir, () => {
        this.relist = true;
        this.scheduleFlush();
      });
      this.dirWatch.on("error", () => this.dirWatch?.close());
    } catch {
      // No profiles' directory yet: the first profile's unit (UnitNew) shows it.
    }
  }

  /**
   * `profiles set` without --restart changes a `.env` and sends no signal. The file is replaced by a
   * rename, which a watch of the file itself would not survive: its directory is watched, for its name.
   * A symlinked `.env` (dotfiles) is replaced where it points, so that directory is watched too; a link
   * pointed elsewhere (stow, home-manager) is seen in the first, and the watch made again.
   */
  private watchEnv(name: string): void {
    if (this.envWatches === undefined || this.envWatches.has(name) || this.stopped) return;
    const link = envFile(this.ctx.paths, name);
    const target = realpathOr(link);
    const watchers: FSWatcher[] = [];
    const entry = { close: () => watchers.forEach((w) => w.close()) };
    const forget = (): void => {
      entry.close();
      // Made again when the profile is next read (the pace still judges it meanwhile).
      if (this.envWatches?.get(name) === entry) this.envWatches.delete(name);
    };
    const changed = (): void => {
      if (target !== realpathOr(link)) {
        forget();
        this.watchEnv(name);
      }
      const t = this.tracked.get(name);
      if (t === undefined || t.row.pid === null || this.stopped) return;
      this.serialise(async () => {
        await this.judgePending(t, Date.now());
        this.onChange();
      });
    };
    const names = new Map<string, Set<string>>();
    for (const f of new Set([link, target])) names.set(path.dirname(f), (names.get(path.dirname(f)) ?? new Set()).add(path.basename(f)));
    try {
      for (const [dir, files] of names) {
        const w = watch(dir, (_event, file) => void ((file === null || files.has(file)) && changed()));
        w.on("error", forget);
        watchers.push(w);
      }
      this.envWatches.set(name, entry);
    } catch {
      // A directory is gone (being removed): the pace still judges it.
      entry.close();
    }
  }

  private unitChanged(unit: string): void {
    const name = PROFILE_UNIT.exec(unit)?.[1];
    if (name === undefined || this.stopped) return;
    // A unit of a profile not shown yet: `profiles add` made it, or `remove` is under way; the list is read again.
    if (!this.tracked.has(name)) this.relist = true;
    this.dirty.add(name);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.stopped) return;
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.serialise(() => this.flush());
    }, COALESCE_MS);
  }

  /** One update at a time, so that a slow read does not overlap the next and rows are never half-written. */
  private serialise(work: () => Promise<void>): void {
    this.busy = this.busy.then(async () => {
      if (this.stopped) return;
      try {
        await work();
      } catch (err) {
        this.onError(err);
      }
    });
  }

  private async flush(): Promise<void> {
    const names = [...this.dirty];
    this.dirty.clear();
    if (this.relist) {
      this.relist = false;
      const now = new Set(await listProfiles(this.ctx.paths));
      for (const n of this.tracked.keys()) {
        if (now.has(n)) continue;
        this.tracked.delete(n);
        this.envWatches?.get(n)?.close();
        this.envWatches?.delete(n);
      }
      await this.load([...now].filter((n) => !this.tracked.has(n) || names.includes(n)));
    } else {
      await this.load(names.filter((n) => this.tracked.has(n)));
    }
    this.onChange();
  }

  /** Reads these profiles' state (their units only) and merges it into the rows. */
  private async load(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const statuses = await inspectRunning(this.ctx, this.config, names, names.map(unitName));
    await Promise.all(statuses.map((s) => this.merge(s)));
  }

  private async merge(s: ProfileStatusRunning): Promise<void> {
    const old = this.tracked.get(s.name);
    const samePid = old !== undefined && old.row.pid === s.pid;
    const startedAtMs = s.pid === null ? null : samePid ? old.row.startedAtMs : await (await this.ctx.procs()).startedAtMs(s.pid);
    const row: TopRow = {
      name: s.name,
      port: s.port,
      activeState: s.activeState,
      subState: s.subState,
      disabled: s.disabled,
      pid: s.pid,
      startedAtMs,
      restarts: s.restarts,
      memoryBytes: samePid ? old.row.memoryBytes : null,
      memorySource: samePid ? old.row.memorySource : null,
      cpuPercent: samePid ? old.row.cpuPercent : null,
      cpuSource: samePid ? old.row.cpuSource : null,
      // A new process has not been probed yet; a stopped one has nothing to probe.
      health: samePid && s.pid !== null ? old.row.health : null,
      pendingRestart: s.pendingRestart,
    };
    if (samePid) {
      // In place: a refresh under way holds this row.
      Object.assign(old.row, row);
      old.pendingAtMs = Date.now();
      return;
    }
    const t: Tracked = { row, sampler: null, usage: null, target: null, probedAtMs: 0, pendingAtMs: Date.now() };
    this.tracked.set(s.name, t);
    this.watchEnv(s.name);
    if (old !== undefined && s.pid !== null) {
      // Probed soon, and its usage read, without waiting for the next pace.
      this.serialise(() => this.refresh([t], Date.now()));
    }
  }

  /** Usage of every running profile, and the probes that are due; then again after the interval. */
  private async paced(): Promise<void> {
    const running = [...this.tracked.values()].filter((t) => t.row.pid !== null);
    await this.refresh(running, Date.now());
    this.onChange();
    if (this.stopped) return;
    this.paceTimer = setTimeout(() => this.serialise(() => this.paced()), this.pace.intervalMs);
  }

  private async refresh(running: Tracked[], nowMs: number): Promise<void> {
    const sd = await this.ctx.systemd();
    await mapLimit(running, PROBE_CONCURRENCY, async (t) => {
      t.sampler ??= new UnitUsage(sd, unitName(t.row.name));
      const usage = await t.sampler.sample().catch(() => null);
      if (usage !== null) {
        t.row.memoryBytes = usage.memoryBytes;
        t.row.memorySource = usage.memorySource;
        t.row.cpuPercent = roundPercent(cpuPercent(usage, t.usage, t.row.startedAtMs));
        t.row.cpuSource = usage.cpuSource;
        t.usage = usage;
      }
      await Promise.all([
        // A failing probe is asked again each interval: a gateway that was still starting shows healthy soon after.
        nowMs - t.probedAtMs >= (t.row.health?.ok === false ? this.pace.intervalMs : this.pace.probeEveryMs) ? this.probeOne(t, nowMs) : undefined,
        nowMs - t.pendingAtMs >= this.pace.pendingEveryMs ? this.judgePending(t, nowMs) : undefined,
      ]);
    });
  }

  private async probeOne(t: Tracked, nowMs: number): Promise<void> {
    t.probedAtMs = nowMs;
    const { name, pid } = t.row;
    // Where the running gateway listens: read when its process is new, not on every probe.
    t.target ??= await profileHealthTarget(this.ctx.paths, this.config, name, await readEnv(this.ctx.paths, name)).catch(() => null);
    const verdict = t.target ? await probe(await this.ctx.prober(), t.target) : null;
    // The process may have changed while this probe ran: its verdict is then of another one.
    if (t.row.pid !== pid) return;
    t.row.health = verdict ? { ok: verdict.ok, reason: verdict.ok ? "ok" : `probe ${verdict.reason}` } : { ok: false, reason: `no ${this.config.portVar} in its .env` };
  }

  /** A `.env` changed without a restart (`profiles set`) sends no signal: it is looked at now and then. */
  private async judgePending(t: Tracked, nowMs: number): Promise<void> {
    t.pendingAtMs = nowMs;
    const { name, pid } = t.row;
    const vsDisk = await runningVsDisk(this.ctx, name, pid);
    if (t.row.pid === pid) t.row.pendingRestart = vsDisk.pendingRestart;
  }
}

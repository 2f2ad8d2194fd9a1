/**
 * One change to one profile. Every verb that changes a profile, or marks one known-good, goes through
 * `withProfile`: it takes the locks in one order, loads the profile once, commits through the store
 * (generation written and verified before the `.env`), restarts and gates, and marks known-good exactly
 * the generation the healthy process started with, never what the file holds by then.
 *
 * Lock order, for every command: "roll" (held by a roll for its whole run) → "ports" → "profile-NAME".
 * A transaction holds one profile's lock; the "ports" lock, taken only by changes that may record a new
 * port, is let go as soon as that port is recorded.
 */
import type { Config } from "../config.js";
import type { ProbeTarget } from "../probe/types.js";
import { InterruptedError, ProfileExistsError, ProfileNotFoundError, UnhealthyError } from "../errors.js";
import { notStopped, stopWaitInterrupted, unlessAborted } from "./stop-signals.js";
import { GenerationLog, type CommitOptions, type CorruptGeneration, type Generation } from "../store/generations.js";
import type { Limits } from "../store/limits.js";
import { withLimits } from "../store/limits-change.js";
import { acquireLock, PROFILE_LOCK_WAIT_MS, type Lock } from "../store/lock.js";
import { clearLeftovers, deleteProfile, entriesOf, ENV_HEADER, portOf, profileExists, readEnvText } from "../store/profiles.js";
import { parseEnv, serializeEnv, type EnvEntries } from "../store/envfile.js";
import { unitName, type JobResult } from "../systemd/types.js";
import { bringUp, type BringUpResult } from "./bring-up.js";
import type { Context } from "./context.js";
import { gateTarget, withProfileSettings } from "./health-target.js";
import { assertEnabled } from "./enabled.js";
import { brokenConfig, brokenNote } from "./broken-config.js";
import { assertPortFor } from "./port-change.js";
import { restartAndGate, type GateOptions, type GateResult } from "./roll/gate.js";
import { startedWith } from "./started-with.js";
import { readProfileSettings } from "../store/profile-settings.js";
import { reloadIfNeeded } from "./unit-reload.js";

export interface ProfileTxOptions {
  /** Who holds the locks, as another command's BusyError names it: `profiles set liam`. */
  command: string;
  /** Take the "ports" lock first: the change may record a port (a new profile, a move, a restore). */
  ports?: boolean;
  /** How long to wait for another command's lock (default PROFILE_LOCK_WAIT_MS); 0 does not wait. */
  waitMs?: number;
  /** The transaction creates the profile: it must not exist yet. */
  create?: boolean;
  /**
   * Aborted by a Ctrl-C or SIGTERM that the verb deferred (deferStopSignals): the transaction is not begun
   * (checked again once the locks are held), and a wait for the unit ends with an InterruptedError.
   */
  stopSignal?: AbortSignal;
}

/** What became of the known-good mark after a passing gate. */
export interface KnownGoodMark {
  /** The generation now known-good (it may have been so before); null when none was marked. */
  generation: number | null;
  /** Why none was marked. */
  why?: string;
}

/** How a change that may restart its profile ended: not restarted (nulls), or restarted and healthy. */
export interface RestartOutcome {
  restarted: boolean;
  healthy: boolean | null;
  pid: number | null;
  elapsedMs: number;
  /** After a restart: the generation marked known-good, or why none was. */
  knownGood: KnownGoodMark | null;
}

/** A change that did not restart. */
export const NOT_RESTARTED: RestartOutcome = { restarted: false, healthy: null, pid: null, elapsedMs: 0, knownGood: null };

/** The generation a start is about to read, and its entries, taken under the lock just before the job. */
interface Pinned {
  generation: Generation;
  entries: EnvEntries;
  /** Where its gate probes (`gateTarget` of its entries). */
  target: ProbeTarget;
}

/** A profile, locked, as one transaction sees and changes it. Only `withProfile` makes one. */
export class ProfileTx {
  private text: string | null = null;
  /** The profile's generations, index.json loaded once for the whole transaction. */
  readonly generations: GenerationLog;

  constructor(
    private readonly ctx: Context,
    readonly name: string,
    readonly config: Config,
    private portsLock: Lock | null,
    creating: boolean,
    /** Aborted by a deferred Ctrl-C or SIGTERM (ProfileTxOptions.stopSignal): ends a wait for the unit. */
    private readonly stopSignal?: AbortSignal,
  ) {
    // A profile being created has no `.env` yet: it records no port.
    if (creating) this.text = "";
    this.generations = new GenerationLog(ctx.paths, name, config.keepGenerations);
  }

  /** The `.env`'s bytes: read once, then as this transaction committed them. */
  envText(): string {
    this.text ??= readEnvText(this.ctx.paths, this.name);
    return this.text;
  }

  /** The `.env` as systemd reads it; BadFileError (exit 12) naming it where systemd would read it otherwise. */
  entries(): EnvEntries {
    return entriesOf(this.ctx.paths, this.name, this.envText());
  }

  /** The port the `.env` records, read leniently: a file broken by hand still holds its port. */
  recordedPort(): number | null {
    return portOf(parseEnv(this.envText()).entries, this.config.portVar);
  }

  /** `add`'s port rules for moving to `port` (keeping one's own port is no move); needs `ports`. */
  async assertPort(port: number, hint?: string): Promise<void> {
    if (!this.portsLock) throw new Error(`transaction "${this.name}" checks a port without the ports lock`);
    if (port === this.recordedPort()) return;
    await assertPortFor(this.ctx, this.config, this.name, port, hint);
  }

  /** Make `text` the `.env` as a new generation (the store's order leaves no phantom), then let go of the ports lock. */
  async commit(text: string, reason: string, opts: Pick<CommitOptions, "always"> = {}): Promise<Generation> {
    const gen = await this.generations.commitText(text, reason, opts);
    this.text = text;
    await this.portsLock?.release();
    return gen;
  }

  /** Record a unit's `.env` taken over byte for byte as generation 1 ("imported"), then let go of the ports lock. */
  async imported(bytes: Buffer): Promise<Generation> {
    const gen = await this.generations.imported(bytes);
    this.text = null;
    await this.portsLock?.release();
    return gen;
  }

  /** `commit` for entries, in the tool's own layout. */
  async commitEntries(entries: EnvEntries, reason: string): Promise<Generation> {
    return this.commit(serializeEnv(entries, ENV_HEADER), reason);
  }

  /**
   * Put generation `n`'s verified bytes back as a NEW generation (a restore is itself undoable), its
   * limits with them; a port that differs from the current one gets `add`'s checks (needs `ports`).
   */
  async restore(n: number, reason: string): Promise<Generation> {
    const text = await this.generations.text(n);
    const port = portOf(parseEnv(text).entries, this.config.portVar);
    if (port !== null) await this.assertPort(port);
    // A generation from before limits had none: restoring it restores the template's defaults.
    const limits: Limits = (await this.generations.get(n)).limits ?? {};
    // Limits and generation together: a commit that fails puts the limits back.
    const { generation: gen, dropInChanged } = await withLimits(this.ctx.paths, this.name, limits, () => this.commit(text, reason, { always: true }));
    await reloadIfNeeded(await this.ctx.systemd(), dropInChanged, async () => [unitName(this.name)]);
    return gen;
  }

  /**
   * The bytes a start now reads, parsed strictly (BadFileError, nothing started, when systemd would read
   * them otherwise or they hold no usable port) and kept as a generation (a hand edit becomes one).
   */
  private async pin(): Promise<Pinned> {
    // A start records no port: another command may record one while this one waits for health.
    await this.portsLock?.release();
    // Read again, not from what the transaction loaded: a hand edit may have come since.
    this.text = readEnvText(this.ctx.paths, this.name);
    const entries = this.entries();
    const target = gateTarget(this.ctx.paths, this.config, this.name, entries);
    const generation = await this.generations.adopt(this.text);
    return { generation, entries, target };
  }

  /**
   * Start, restart or reload the unit and wait until it is healthy (`bringUp`), then mark known-good the
   * generation pinned before the job, if the healthy process started with it. A reload marks nothing:
   * the process keeps the environment it started with.
   */
  async bringUp(kind: "start" | "restart" | "reload", deadlineMs: number): Promise<{ up: BringUpResult; generation: number; knownGood: KnownGoodMark }> {
    // Every start of ours passes here (start, sweep, set --restart, rollback): a disabled profile stays down.
    if (kind !== "reload") await assertEnabled(this.ctx, [this.name]);
    const pinned = await this.pin();
    const { target } = pinned;
    const up = await bringUp(this.ctx, this.name, { restart: kind === "restart", reload: kind === "reload", deadlineMs, target, signal: this.stopSignal }).catch(async (err: unknown) => {
      // A profile that fails with a .env other than its known-good one: say so, and the way back.
      const broken = err instanceof UnhealthyError ? await brokenConfig(this.ctx.paths, this.name) : null;
      throw broken ? new UnhealthyError(`${(err as UnhealthyError).message}${brokenNote(broken)}`, (err as UnhealthyError).details, `run \`profiles rollback ${this.name}\``) : err;
    });
    const knownGood = kind === "reload" ? { generation: null, why: "a reload keeps the environment the process started with" } : await this.mark(pinned, up.state.mainPid);
    return { up, generation: pinned.generation.number, knownGood };
  }

  /**
   * Restart after a change (`set --restart`, `rollback`): healthy, or an UnhealthyError whose message
   * adds `kept` (what the change left in place) and whose hint is `hint`.
   */
  async restartAfterChange(waitMs: number, kept: string, hint: string): Promise<RestartOutcome> {
    try {
      const { up, knownGood } = await this.bringUp("restart", waitMs);
      return { restarted: true, healthy: true, pid: up.state.mainPid, elapsedMs: up.elapsedMs, knownGood };
    } catch (err) {
      // The change stays either way: the message says where it is kept.
      if (err instanceof InterruptedError && kept) throw err.noting(kept);
      if (!(err instanceof UnhealthyError)) throw err;
      throw new UnhealthyError(`${err.message}${kept ? ` (${kept})` : ""}`, err.details, hint);
    }
  }

  /** `restartAndGate` (roll's gate, profile.ini applied) on the pinned generation, marking it known-good when it passes. */
  async gate(opts: Omit<GateOptions, "target">): Promise<{ result: GateResult; generation: number; knownGood: KnownGoodMark | null }> {
    await assertEnabled(this.ctx, [this.name]);
    const pinned = await this.pin();
    const own = await readProfileSettings(this.ctx.paths, this.name);
    const target = withProfileSettings(pinned.target, own);
    const result = await restartAndGate(this.ctx, this.name, { ...opts, target });
    const knownGood = result.failure || result.pid === null ? null : await this.mark(pinned, result.pid);
    return { result, generation: pinned.generation.number, knownGood };
  }

  /**
   * Mark known-good what the running, healthy process `pid` started with: the `.env`'s generation when
   * the process's environment holds it. Used by the sweep, which finds profiles already running.
   */
  async markRunning(pid: number): Promise<KnownGoodMark & { unknown?: true }> {
    const text = readEnvText(this.ctx.paths, this.name);
    const entries = entriesOf(this.ctx.paths, this.name, text);
    const seen = startedWith(await (await this.ctx.procs()).environ(pid), entries);
    if (seen.verdict === "different") return { generation: null, why: `the running process did not start with the .env as it is now (${seen.keys.join(", ")} differ)` };
    const generation = await this.generations.adopt(text);
    const marked = await this.generations.mark(generation.sha256);
    return { generation: marked?.number ?? null, ...(seen.verdict === "unknown" ? { unknown: true as const } : {}) };
  }

  /**
   * The mark itself. The profile's lock has been held since the pin, so no command of ours changed the
   * file; the process's own environment (/proc/PID/environ) proves a hand edit did not either. Where that
   * cannot be read, the pin under the lock is what vouches.
   */
  private async mark(pinned: Pinned, pid: number): Promise<KnownGoodMark> {
    const seen = startedWith(pid > 0 ? await (await this.ctx.procs()).environ(pid) : null, pinned.entries);
    if (seen.verdict === "different") {
      return { generation: null, why: `process ${pid} did not start with generation ${pinned.generation.number} (${seen.keys.join(", ")} differ: the .env was changed by hand during the start)` };
    }
    const marked = await this.generations.mark(pinned.generation.sha256);
    return marked ? { generation: marked.number } : { generation: null, why: `generation ${pinned.generation.number} is no longer kept` };
  }

  /** Enable the unit (EnableUnitFiles), then start it through the gate as `bringUp` does. */
  async enableAndStart(deadlineMs: number): Promise<{ up: BringUpResult; generation: number; knownGood: KnownGoodMark }> {
    await (await this.ctx.systemd()).enable([unitName(this.name)]);
    return this.bringUp("start", deadlineMs).catch((err: unknown) => {
      throw err instanceof InterruptedError ? err.noting("enabled all the same") : err;
    });
  }

  /** Disable the unit (DisableUnitFiles) first, so nothing of ours starts it again meanwhile, then stop it and wait for the job. */
  async disableAndStop(deadlineMs: number): Promise<JobResult> {
    const sd = await this.ctx.systemd();
    await sd.disable([unitName(this.name)]);
    return unlessAborted(sd.stop(unitName(this.name), { timeoutMs: deadlineMs }), this.stopSignal, (sig) => stopWaitInterrupted(sig, this.name).noting("disabled all the same"));
  }

  /** Drop corrupt generation `n` from the history (an intact one is refused: UsageError). */
  async forget(n: number): Promise<CorruptGeneration> {
    return this.generations.forget(n);
  }

  /** Delete the profile (its `.env` kept under removed/ unless `purge`); the unit must be stopped already. */
  async remove(purge: boolean): Promise<string | null> {
    const { kept, dropInRemoved } = await deleteProfile(this.ctx.paths, this.name, purge);
    if (dropInRemoved) await (await this.ctx.systemd()).reload();
    return kept;
  }
}

/**
 * Run `fn` on profile `name` under its locks (module doc: the order). ProfileNotFoundError when it does
 * not exist (checked under the lock: a `remove` may have just finished), ProfileExistsError with
 * `create` when it does; BusyError naming the holder when a lock is not free within `waitMs`.
 */
export async function withProfile<T>(ctx: Context, name: string, opts: ProfileTxOptions, fn: (tx: ProfileTx) => Promise<T>): Promise<T> {
  const config = await ctx.config();
  const wait = opts.waitMs ?? PROFILE_LOCK_WAIT_MS;
  notStopped(opts.stopSignal, name, opts.command);
  // A lock held by another command is waited for (up to `wait`): a signal meanwhile ends the wait, untouched.
  const lock = (lockName: string): Promise<Lock> =>
    acquireLock(ctx.paths.locksDir, lockName, opts.command, wait, opts.stopSignal).catch((err: unknown) => {
      notStopped(opts.stopSignal, name, opts.command);
      throw err;
    });
  const ports = opts.ports ? await lock("ports") : null;
  let own: Lock | null = null;
  try {
    own = await lock(`profile-${name}`);
    notStopped(opts.stopSignal, name, opts.command);
    const exists = await profileExists(ctx.paths, name);
    if (opts.create && exists) throw new ProfileExistsError(name);
    if (!opts.create && !exists) throw new ProfileNotFoundError(name);
    // What an interrupted `remove` left (generations, limits, a drop-in) is not the new profile's.
    if (opts.create && (await clearLeftovers(ctx.paths, name))) await (await ctx.systemd()).reload();
    return await fn(new ProfileTx(ctx, name, config, ports, opts.create === true, opts.stopSignal));
  } finally {
    await own?.release();
    await ports?.release();
  }
}

import type { Paths } from "../../paths.js";
import { selfIdentity } from "../../processes/identity.js";
import { redactText } from "../../redact.js";
import { ensureDir, writeFileAtomic } from "../../store/atomic.js";
import { recordFile, type ProfileEntry, type RollRecord } from "./record.js";

/**
 * The record as written: roll.json is output too, so its text (a failure's reason, the gateway's log
 * lines) is redacted. Names and numbers are its structure and stay: a name masked by a secret that
 * happens to equal it would make the record unreadable.
 */
function forDisk(record: RollRecord): RollRecord {
  const text = (t: string | null) => (t === null ? null : redactText(t));
  const profiles = Object.fromEntries(
    Object.entries(record.profiles).map(([n, e]) => [n, { ...e, reason: text(e.reason), revertProblem: text(e.revertProblem), details: e.details.map(redactText) }]),
  );
  return { ...record, profiles };
}

/** Holds the record in memory and writes it after each change, one write at a time and in order. */
export class RollRecorder {
  /** The last write begun or queued. */
  private chain: Promise<void> = Promise.resolve();
  /** A write queued behind the one in flight, not begun yet. */
  private queued: Promise<void> | null = null;
  /** Called after each change of a profile's entry (for progress output). */
  onChange: (name: string, entry: ProfileEntry) => void = () => {};

  constructor(
    readonly paths: Paths,
    readonly record: RollRecord,
  ) {}

  /** The entry of a planned profile. */
  entry(name: string): ProfileEntry {
    const e = this.record.profiles[name];
    if (!e) throw new Error(`roll record: ${name} is not in the plan`);
    return e;
  }

  /** Change a profile's entry and write the record. */
  async update(name: string, patch: Partial<ProfileEntry>): Promise<void> {
    Object.assign(this.entry(name), patch);
    this.onChange(name, this.entry(name));
    await this.save();
  }

  /** Note that this process took over an interrupted roll. */
  async resume(): Promise<void> {
    Object.assign(this.record, selfIdentity());
    this.record.resumptions.push({ at: new Date().toISOString(), pid: process.pid });
    await this.save();
  }

  /** Note a signal that stops the roll after its batch; the record stays unfinished. */
  async interrupt(signal: string): Promise<void> {
    this.record.interruptions.push({ at: new Date().toISOString(), signal });
    await this.save();
  }

  async finish(outcome: "completed" | "halted"): Promise<void> {
    this.record.finished = { at: new Date().toISOString(), outcome };
    await this.save();
  }

  /**
   * Write the record as it is now. One write at a time, in order; changes made while one is in flight
   * share the single write queued behind it, whose text is taken when it begins and so holds them all:
   * a batch of 5 marks its profiles "rolling" in 2 writes instead of 5, and its last restart waited on them.
   */
  save(): Promise<void> {
    this.record.updatedAt = new Date().toISOString();
    this.queued ??= this.chain.catch(() => {}).then(() => {
      this.queued = null;
      return this.write();
    });
    this.chain = this.queued;
    return this.queued;
  }

  protected async write(): Promise<void> {
    const text = JSON.stringify(forDisk(this.record), null, 2) + "\n";
    await ensureDir(this.paths.stateDir, 0o700);
    // Written twice per profile: not fsync'd, which cost a roll of 20 some 50 ms. A killed roll still
    // finds a whole record; after a power loss it may find an older one, and resuming from it
    // restarts a profile once more than needed, which a roll does anyway.
    await writeFileAtomic(recordFile(this.paths), text, 0o600, { durable: false });
  }
}

import { batchLabel } from "./plan.js";
import type { ProfileEntry } from "./record.js";
import type { RollRecorder } from "./recorder.js";
import { profileLine } from "./report.js";
import type { RollObserver } from "./runner.js";

/** Progress output of a roll: plain lines, listr2 on a terminal, or nothing (--json). */
export interface RollView extends RollObserver {
  /** A roll starts, or an interrupted one resumes, with this record. */
  begin(rec: RollRecorder): Promise<void>;
  /** A profile's entry changed. */
  changed(name: string, entry: ProfileEntry): void;
  /** A line about the roll as a whole ("stopping after this batch"). */
  message(text: string): void;
  /** The roll ended (or threw); the view lets go of the terminal. */
  end(): Promise<void>;
}

const SETTLED = new Set(["rolled", "reverted", "failed", "skipped"]);

/** Progress as plain lines (stderr when it is no terminal, CI logs); `write` prints one line. */
export function plainView(write: (line: string) => void): RollView {
  let rec: RollRecorder | undefined;
  // An entry changes several times while in one state (pid, target); a line is owed only on a new state.
  const lastState = new Map<string, string>();
  return {
    async begin(r) {
      rec = r;
      const n = r.record.plan.reduce((a, b) => a + b.names.length, 0);
      write(`roll: ${n} profile(s) in ${r.record.plan.length} batch(es): ${r.record.plan.map((b) => `[${b.names.join(" ")}]`).join(" ")}`);
    },
    batchStarted(index) {
      if (rec) write(`${batchLabel(rec.record.plan, index)}: ${rec.record.plan[index]!.names.join(", ")}`);
    },
    note(name, text) {
      write(`  ${name}: ${text}`);
    },
    changed(name, entry) {
      if (lastState.get(name) === entry.state) return;
      lastState.set(name, entry.state);
      if (entry.state === "reverting") write(`  ${name}: FAILED its gate: ${entry.reason}`);
      if (SETTLED.has(entry.state)) write(`  ${profileLine({ ...entry, name, outcome: entry.state as "rolled" })}`);
    },
    message(text) {
      write(text);
    },
    async end() {},
  };
}

/** No progress at all (--json: the summary is the only output). */
export function silentView(): RollView {
  return { async begin() {}, batchStarted() {}, note() {}, changed() {}, message() {}, async end() {} };
}

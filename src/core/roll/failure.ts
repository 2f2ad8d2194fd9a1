/** Why a profile failed its roll gate: from the unit's state, or from what the probes saw when time ran out. */
import type { ProbeVerdict } from "../../probe/types.js";
import type { RunState } from "../../systemd/types.js";
import { secondsText } from "./options.js";

/** Why a profile failed its gate, in words a summary can group by. */
export const FAILURE_KINDS = [
  "crashed", // the main process exited or was killed (the unit failed, or the manager restarted it)
  "start-limit-hit", // it crashed so often that the manager gave up on it
  "unit-failed", // failed for another reason (timeout, resources, ...)
  "stopped", // the unit went inactive (exited 0, or someone stopped it)
  "job-failed", // the restart job itself did not end `done`
  "not-active", // never reached active/running in time
  "no-answer", // running, but the health probe never got an answer (refused, timeout)
  "health-status", // the health probe answered with a non-2xx status
  "not-stable", // healthy at times, never for the whole min-healthy-time
  "progress-deadline", // the roll went too long without any profile turning healthy
  "bad-env", // its .env (or profile settings) do not parse the way systemd reads them, or give no usable port
  "port-taken", // another process holds its port: the health answers came from it, not from the unit
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** A failed gate: the kind, one line for people, and the tail of the profile's log when there is one. */
export interface GateFailure {
  kind: FailureKind;
  message: string;
  details: string[];
}

// CLD_* codes of ExecMainCode.
function exitText(s: RunState): string {
  if (s.execMainCode === 1) return `exited with status ${s.execMainStatus}`;
  if (s.execMainCode === 2) return `was killed by signal ${s.execMainStatus}`;
  if (s.execMainCode === 3) return `dumped core on signal ${s.execMainStatus}`;
  return "ended";
}

/** A unit state that already settles the gate as failed, or null while it may still pass. */
export function stateFailure(s: RunState, baselineRestarts: number): Omit<GateFailure, "details"> | null {
  if (s.activeState === "failed") {
    if (s.result === "start-limit-hit") return { kind: "start-limit-hit", message: `start-limit-hit: the manager gave up restarting it (it ${exitText(s)})` };
    if (["exit-code", "signal", "core-dump"].includes(s.result)) return { kind: "crashed", message: `crashed: it ${exitText(s)} and the unit failed` };
    return { kind: "unit-failed", message: `the unit failed (result ${s.result}; it ${exitText(s)})` };
  }
  // auto-restart: it died and waits RestartSec= to be started again; NRestarts moves only then.
  if (s.subState === "auto-restart" || s.nRestarts > baselineRestarts) {
    const times = s.nRestarts - baselineRestarts;
    return { kind: "crashed", message: `crashed: it ${exitText(s)} and ${times > 0 ? `was restarted ${times} time(s)` : "is waiting to be restarted"} by the manager` };
  }
  if (s.activeState === "inactive") return { kind: "stopped", message: `stopped: it ${exitText(s)} (result ${s.result})` };
  return null;
}

/** The limits a gate ran under, for the messages. */
export interface TimeoutContext {
  minHealthyMs: number;
  healthyDeadlineMs: number;
  progressDeadlineMs: number;
}

/** The failure when time ran out, from what the last polls saw. */
export function timeoutFailure(opts: TimeoutContext, seen: Seen): Omit<GateFailure, "details"> {
  const within = `within ${secondsText(opts.healthyDeadlineMs)}`;
  let what: Omit<GateFailure, "details">;
  const v = seen.verdict;
  if (seen.everHealthy && (!v || v.ok)) {
    what = { kind: "not-stable", message: `not healthy for ${secondsText(opts.minHealthyMs)} in a row ${within}` };
  } else if (seen.answered) {
    // An answer says more than a later timeout (the last probe may have had only the deadline's remainder).
    what = { kind: "health-status", message: `health returned ${seen.answered.status}${seen.everHealthy ? " (after passing for a while)" : ""}` };
  } else if (v) {
    what = { kind: "no-answer", message: seen.everHealthy ? `health stopped answering (${v.reason})` : `health never answered ${within} (${v.reason})` };
  } else {
    what = { kind: "not-active", message: `not active ${within} (last seen ${seen.state})` };
  }
  if (!seen.byProgress) return what;
  return { kind: "progress-deadline", message: `progress deadline passed (${secondsText(opts.progressDeadlineMs)} without a profile turning healthy); ${what.message}` };
}

/** What the polls of one gate saw. */
export interface Seen {
  verdict: ProbeVerdict | null;
  /** The last probe that got an HTTP answer other than 2xx. */
  answered: ProbeVerdict | null;
  state: string;
  everHealthy: boolean;
  byProgress: boolean;
}


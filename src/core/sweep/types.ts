/** The shapes a sweep produces: per profile and for the whole run. */
import type { Drift } from "./drift.js";
import type { HealthObservation } from "./unit-health.js";
import type { PortHolder } from "../port-owner.js";
import type { WebhookOutcome } from "./webhook.js";
import type { RotateOutcome } from "../logs/rotate.js";

/** What the sweep did about an unhealthy profile. */
export type SweepAction =
  | { kind: "restart" | "start" | "rollback"; ok: boolean; error: string | null; elapsedMs: number }
  | { kind: "skipped"; reason: string };

/** One profile as the sweep found it, and left it. */
export interface SweepProfile extends HealthObservation {
  /** Null when the profile has no port. */
  portHolder: PortHolder | null;
  restartsSinceLastSweep: number;
  /** Automatic restarts counted by every sweep so far (a counter for metrics). */
  restartsTotal: number;
  /** Null when its generations cannot be read. */
  drift: Drift | null;
  /** The verdict before a restart, when the sweep acted on it. */
  before: { healthy: boolean; condition: string; problems: string[] } | null;
  action: SweepAction | null;
  /** The generation the sweep marked known-good, when it did. */
  markedKnownGood: number | null;
  /** Remarks that do not make it unhealthy (drift, a lock held by someone else). */
  notes: string[];
}

/** A whole sweep. Holds no `.env` values, and the webhook URL only redacted. */
export interface SweepResult {
  time: string;
  durationMs: number;
  host: string;
  total: number;
  healthy: number;
  unhealthy: number;
  /** Kept down by `profiles disable`: neither healthy nor unhealthy, never restarted. */
  disabled: number;
  /** Restart or start attempts made (at most --max-restarts). */
  restartAttempts: number;
  profiles: SweepProfile[];
  /** Log files (`init --log-dir`) that reached `[logs] max_size` and were rotated; absent in older reports. */
  rotatedLogs?: RotateOutcome[];
  report: string | null;
  textfile: { path: string; written: boolean; error: string | null } | null;
  webhook: WebhookOutcome | null;
}

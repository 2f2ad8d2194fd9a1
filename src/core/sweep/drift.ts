/** Drift: whether a profile's `.env` differs from its last known-good generation, and whether it changed under a running gateway. */
import { statSync, type Stats } from "node:fs";
import { envFile, type Paths } from "../../paths.js";
import type { ProcessInspector } from "../../processes/inspector.js";
import { history, lastKnownGood } from "../../store/generations.js";

/** What the generations say about a profile's `.env`. */
export interface Drift {
  /** The generation the `.env` holds now; null when it matches none (edited by hand). */
  current: number | null;
  /** The newest known-good generation; null when the profile was never seen healthy. */
  knownGood: number | null;
  /** The `.env` differs from the known-good generation. */
  drifted: boolean;
  /** The `.env` was written after the running gateway started: what runs is not what the file says. */
  pendingRestart: boolean;
}

// /proc start times come in 10 ms steps and the boot time is derived: allow some slack before calling a file newer.
const CLOCK_SLACK_MS = 100;

/** Compare the `.env` with its generations; `mainPid` (when running) tells whether the file is newer than the process. */
export async function driftOf(paths: Paths, procs: ProcessInspector, name: string, mainPid: number | null): Promise<Drift> {
  const h = await history(paths, name);
  const good = lastKnownGood(h.generations);
  let pendingRestart = false;
  if (mainPid !== null) {
    // Synchronous, as the store's reads of small files are (see readEnv in store/profiles.ts).
    const st = statOrNull(envFile(paths, name));
    const started = await procs.startedAtMs(mainPid);
    pendingRestart = st !== null && started !== null && st.mtimeMs > started + CLOCK_SLACK_MS;
  }
  return { current: h.current, knownGood: good?.number ?? null, drifted: good !== null && good.sha256 !== h.fileSha256, pendingRestart };
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

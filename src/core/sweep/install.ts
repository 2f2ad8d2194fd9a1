/** Installing and removing the nightly sweep's units (`profiles init`, `profiles init --no-sweep`). */
import fs from "node:fs/promises";
import path from "node:path";
import { SystemdError } from "../../errors.js";
import type { Paths } from "../../paths.js";
import { writeFileIfChanged } from "../../store/atomic.js";
import type { SystemdManager } from "../../systemd/types.js";
import { setUnitKey } from "../../systemd/unit-file.js";
import { SWEEP_SERVICE, SWEEP_TIMER, sweepExecStart, sweepUnitSource } from "./schedule.js";

/** The two unit files as they are installed: the service with this node and CLI in ExecStart, the timer as shipped. */
export async function renderSweepUnits(): Promise<{ service: string; timer: string; execStart: string }> {
  const execStart = sweepExecStart();
  const service = setUnitKey(await fs.readFile(sweepUnitSource(SWEEP_SERVICE), "utf8"), "Service", "ExecStart", [execStart]);
  const timer = await fs.readFile(sweepUnitSource(SWEEP_TIMER), "utf8");
  return { service, timer, execStart };
}

/**
 * Write both units (nothing when they already hold these bytes); the caller reloads the manager when
 * `changed`, then calls `startSweepTimer`.
 */
export async function writeSweepUnits(paths: Paths, units: { service: string; timer: string }): Promise<{ files: string[]; changed: boolean }> {
  const files = [path.join(paths.unitDir, SWEEP_SERVICE), path.join(paths.unitDir, SWEEP_TIMER)];
  const service = await writeFileIfChanged(files[0]!, units.service, 0o644);
  const timer = await writeFileIfChanged(files[1]!, units.timer, 0o644);
  return { files, changed: service || timer };
}

/** Enable the timer (timers.target wants it) and start it now; after a reload, so the manager has the new files. */
export async function startSweepTimer(sd: SystemdManager): Promise<void> {
  await sd.enable([SWEEP_TIMER]);
  const job = await sd.start(SWEEP_TIMER, { timeoutMs: 30_000 });
  if (job !== "done") throw new SystemdError(`starting ${SWEEP_TIMER}: the job ended "${job}"`, undefined, `see \`systemctl --user status ${SWEEP_TIMER}\``);
}

/**
 * Stop and disable the timer and delete both unit files, when they are installed; the caller reloads.
 * Returns whether there was anything to remove.
 */
export async function removeSweepUnits(paths: Paths, sd: SystemdManager): Promise<boolean> {
  const files = [path.join(paths.unitDir, SWEEP_TIMER), path.join(paths.unitDir, SWEEP_SERVICE)];
  const present = await Promise.all(files.map((f) => fs.access(f).then(() => true, () => false)));
  if (!present.some(Boolean)) return false;
  if (present[0]) {
    const job = await sd.stop(SWEEP_TIMER, { timeoutMs: 30_000 });
    if (job !== "done") throw new SystemdError(`stopping ${SWEEP_TIMER}: the job ended "${job}"`, undefined, `see \`systemctl --user status ${SWEEP_TIMER}\``);
    await sd.disable([SWEEP_TIMER]);
  }
  for (const f of files) await fs.rm(f, { force: true });
  return true;
}

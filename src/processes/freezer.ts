/**
 * A unit's processes paused through the cgroup v2 freezer (`cgroup.freeze`, which systemd delegates to the
 * user with the rest of the unit's cgroup), so that none of them writes while a log file is cut.
 * systemd's own FreezeUnit is not used: on a hybrid-cgroup host (v1 plus v2 under unified/) 252 says the
 * unit "does not support freezing", while the v2 file there works.
 */
import fs from "node:fs/promises";
import path from "node:path";

// Where the v2 hierarchy is mounted: pure v2, or hybrid.
const V2_ROOTS = ["", "unified"];
/** How long to wait for the kernel to report the cgroup frozen (it waits for tasks to leave the kernel). */
const FREEZE_WAIT_MS = 1000;

async function freezeFile(controlGroup: string, root: string): Promise<string | null> {
  for (const h of V2_ROOTS) {
    const file = path.join(root, h, controlGroup, "cgroup.freeze");
    if (await fs.access(file, fs.constants.W_OK).then(() => true, () => false)) return file;
  }
  return null;
}

async function frozen(dir: string): Promise<boolean> {
  const events = await fs.readFile(path.join(dir, "cgroup.events"), "utf8").catch(() => "");
  return /^frozen 1$/m.test(events);
}

/**
 * Runs `body` with the cgroup `controlGroup` (the unit's ControlGroup property) frozen, and thaws it
 * afterwards whatever happens. `frozen` says whether it was: false where there is no writable v2
 * freezer (or no cgroup: a stopped unit writes nothing anyway), and `body` then runs all the same.
 */
export async function whileFrozen<T>(controlGroup: string, body: () => Promise<T>, root = "/sys/fs/cgroup"): Promise<{ value: T; frozen: boolean }> {
  const file = controlGroup ? await freezeFile(controlGroup, root) : null;
  if (file === null) return { value: await body(), frozen: false };
  try {
    await fs.writeFile(file, "1");
  } catch {
    return { value: await body(), frozen: false };
  }
  try {
    const deadline = Date.now() + FREEZE_WAIT_MS;
    let done = await frozen(path.dirname(file));
    while (!done && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
      done = await frozen(path.dirname(file));
    }
    return { value: await body(), frozen: done };
  } finally {
    await fs.writeFile(file, "0");
  }
}

/**
 * Rotation of profiles' log files (`init --log-dir`) by size. The manager opened each file once with
 * O_APPEND and hands that descriptor to every run of the gateway, so the file cannot be renamed away
 * (the gateway would go on writing to the renamed one): it is copied to NAME.log.1, then truncated, and
 * the gateway's next write lands at its new end. What the gateway writes between the copy's end and the
 * truncation would be lost: its cgroup is frozen for that moment (the copy catches up first, so the
 * pause lasts one short read), where the cgroup v2 freezer is writable; `frozen` says whether it was.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../config.js";
import { whileFrozen } from "../../processes/freezer.js";
import { acquireLock } from "../../store/lock.js";
import { unitName } from "../../systemd/types.js";
import type { Context } from "../context.js";
import { logFile } from "./source.js";

/** What happened to one profile's log file. */
export interface RotateOutcome {
  name: string;
  file: string;
  rotated: boolean;
  /** Bytes moved to NAME.log.1. */
  bytes: number;
  /** Whether the gateway was paused while the file was cut (else a line written in that instant may be lost). */
  frozen: boolean;
}

const CHUNK = 256 * 1024;
/** How long a rotation waits for another one of the same file (the sweep's and `logs --rotate`). */
const ROTATE_LOCK_WAIT_MS = 10_000;

/** Copies what `src` holds from byte `pos` on to the end of `dst`; the new position. */
async function copyRest(src: fs.FileHandle, dst: fs.FileHandle, pos: number): Promise<number> {
  const buf = Buffer.alloc(CHUNK);
  for (;;) {
    const { bytesRead } = await src.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) return pos;
    await dst.write(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** Shifts FILE.1 ... FILE.(keep-1) up by one (the oldest falls off), copies FILE to FILE.1 and empties FILE. */
export async function rotateFile(file: string, keep: number, pause: <T>(body: () => Promise<T>) => Promise<{ value: T; frozen: boolean }>): Promise<{ bytes: number; frozen: boolean }> {
  // Beyond `keep` (which may have been lowered since they were made): the oldest go first.
  const base = path.basename(file);
  for (const f of await fs.readdir(path.dirname(file))) {
    const n = f.startsWith(`${base}.`) ? Number(f.slice(base.length + 1)) : NaN;
    if (Number.isInteger(n) && n >= keep) await fs.rm(path.join(path.dirname(file), f), { force: true });
  }
  for (let i = keep - 1; i >= 1; i--) {
    await fs.rename(`${file}.${i}`, `${file}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
  const src = await fs.open(file, "r+");
  const tmp = `${file}.1.tmp`;
  const dst = await fs.open(tmp, "w", (await src.stat()).mode & 0o777);
  try {
    const caughtUp = await copyRest(src, dst, 0);
    const { value: bytes, frozen } = await pause(async () => {
      const end = await copyRest(src, dst, caughtUp);
      await src.truncate(0);
      return end;
    });
    await dst.sync();
    await dst.close();
    await fs.rename(tmp, `${file}.1`);
    return { bytes, frozen };
  } finally {
    await src.close();
    await dst.close().catch(() => {});
  }
}

/**
 * Rotates the log files of `names` that reached `[logs] max_size` (all of them with `force`, when not
 * empty). Without a log dir there is nothing to rotate. One at a time, each under its own lock.
 */
export async function rotateLogs(ctx: Context, config: Config, names: readonly string[], force: boolean, command: string): Promise<RotateOutcome[]> {
  if (!config.logDir) return [];
  const out: RotateOutcome[] = [];
  for (const name of names) {
    const file = logFile(config.logDir, name);
    const size = (await fs.stat(file).catch(() => null))?.size ?? 0;
    const due = size > 0 && (force || (config.logMaxBytes > 0 && size >= config.logMaxBytes));
    if (!due) {
      out.push({ name, file, rotated: false, bytes: 0, frozen: false });
      continue;
    }
    // No manager, no cgroup to pause: the file is still cut, with the instant's risk said in `frozen`.
    const { ControlGroup } = await (await ctx.systemd()).properties(unitName(name), ["ControlGroup"]).catch(() => ({ ControlGroup: "" }));
    const cgroup = typeof ControlGroup === "string" ? ControlGroup : "";
    const lock = await acquireLock(ctx.paths.locksDir, `log-${name}`, command, ROTATE_LOCK_WAIT_MS);
    try {
      const r = await rotateFile(file, config.logKeep, (body) => whileFrozen(cgroup, body));
      out.push({ name, file, rotated: true, ...r });
    } finally {
      await lock.release();
    }
  }
  return out;
}

/**
 * A removed profile's log files (NAME.log and its rotated NAME.log.N): kept under `removedDir` as
 * NAME.STAMP.log... beside its `.env`, or deleted with `purge`. Where they went.
 */
export async function retireLogs(config: Config, removedDir: string, name: string, stamp: string, purge: boolean): Promise<string[]> {
  if (!config.logDir) return [];
  const own = new RegExp(`^${name.replace(/[.]/g, "\\.")}\\.log(\\.\\d+)?$`);
  const files = (await fs.readdir(config.logDir).catch(() => [] as string[])).filter((f) => own.test(f));
  const kept: string[] = [];
  for (const f of files) {
    const from = path.join(config.logDir, f);
    if (purge) {
      await fs.rm(from, { force: true });
      continue;
    }
    const to = path.join(removedDir, `${name}.${stamp}${f.slice(name.length)}`);
    await fs.rename(from, to).catch(async (err: NodeJS.ErrnoException) => {
      // Another file system: copied, then removed.
      if (err.code !== "EXDEV") throw err;
      await fs.copyFile(from, to);
      await fs.rm(from);
    });
    // Kept beside the .env as strictly as it: a gateway may have echoed a secret (systemd makes logs 0644).
    await fs.chmod(to, 0o600);
    kept.push(to);
  }
  return kept;
}

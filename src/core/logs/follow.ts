/** Follow a log file as `tail -F` does: appends, truncation, and rotation (the path now names a new file). */
import { watch, type FSWatcher } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";

export interface FollowOptions {
  /** Where the output already shown ended (`tailFile`'s size and inode); null when the file did not exist. */
  from: { size: number; ino: number; dev: number } | null;
  /** Receives the new text as it is appended; awaited, so a slow reader slows the reading. */
  write(text: string): Promise<void>;
  /** A line for people about the file itself (truncated, replaced). */
  notice(message: string): void;
  /** Following stops, and the promise resolves, when this aborts. */
  signal: AbortSignal;
  /** A re-check even without a file event, for filesystems that send none (NFS, some overlays). */
  pollMs?: number;
}

const CHUNK = 64 * 1024;
const DEFAULT_POLL_MS = 1000;

/** Follow `file` until `signal` aborts; the file may not exist yet, be truncated, or be replaced. */
export async function followFile(file: string, opts: FollowOptions): Promise<void> {
  // Typed by assertion: assigned only inside the closures below, so TS would narrow it to null out here.
  let fh = null as fs.FileHandle | null;
  let id = "";
  let pos = 0;
  let decoder = new StringDecoder("utf8");

  const open = async (): Promise<boolean> => {
    try {
      fh = await fs.open(file, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    const st = await fh.stat();
    id = `${st.dev}:${st.ino}`;
    return true;
  };
  const readAvailable = async (handle: fs.FileHandle): Promise<void> => {
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      const text = decoder.write(buf.subarray(0, bytesRead));
      if (text) await opts.write(text);
    }
  };
  const drain = async (): Promise<void> => {
    if (fh) {
      if ((await fh.stat()).size < pos) {
        opts.notice(`${file} was truncated; reading it from the start`);
        pos = 0;
      }
      // What was appended to the old file before it was rotated away is still shown.
      await readAvailable(fh);
    }
    const now = await fs.stat(file).catch(() => null);
    if (now === null || (fh && `${now.dev}:${now.ino}` === id)) return;
    if (fh) {
      opts.notice(`${file} was replaced (rotated); following the new file`);
      const rest = decoder.end();
      if (rest) await opts.write(rest);
      await fh.close();
      fh = null;
      decoder = new StringDecoder("utf8");
    }
    pos = 0;
    if (await open() && fh) await readAvailable(fh);
  };

  if (await open()) {
    // The file shown so far is this one: go on from where it ended; a new one is read from its start.
    const from = opts.from;
    pos = from && `${from.dev}:${from.ino}` === id ? from.size : 0;
  }

  let dirty = true;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    dirty = true;
    wake?.();
  };
  let watcher: FSWatcher | null = null;
  try {
    // The directory, not the file: a watch on the file stays on the old inode after a rotation.
    watcher = watch(path.dirname(file), poke);
    watcher.on("error", () => watcher?.close());
  } catch {
    // No inotify here (or the directory is gone): the poll below still finds new output.
  }
  const timer = setInterval(poke, opts.pollMs ?? DEFAULT_POLL_MS);
  opts.signal.addEventListener("abort", poke, { once: true });
  try {
    while (!opts.signal.aborted) {
      if (!dirty) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      dirty = false;
      if (opts.signal.aborted) break;
      await drain();
    }
  } finally {
    watcher?.close();
    clearInterval(timer);
    opts.signal.removeEventListener("abort", poke);
    await fh?.close();
  }
}

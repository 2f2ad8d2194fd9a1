/** The last lines of a log file, read from its end. */
import fs from "node:fs/promises";
import { BadFileError } from "../../errors.js";

const CHUNK = 64 * 1024;

/** The last lines of a file, and where the file ended when read, so that following goes on from there. */
export interface Tail {
  lines: string[];
  /** The file's size when read: following starts at this byte. */
  size: number;
  ino: number;
  dev: number;
  /** Whether the last line was complete; a partial one is still being written. */
  endsWithNewline: boolean;
}

/**
 * Read the last `n` lines of `file` from its end, without reading the whole file, and none from before
 * byte `from` (what a failure shows starts where the file ended before the start); null if it does not exist.
 */
export async function tailFile(file: string, n: number, from = 0): Promise<Tail | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new BadFileError(file, `cannot be read (${code})`);
  }
  try {
    const st = await fh.stat();
    const chunks: Buffer[] = [];
    let pos = st.size;
    let newlines = 0;
    // n complete lines need n + 1 newlines: the one before the first line, and each line's own.
    while (pos > from && newlines <= n) {
      const len = Math.min(CHUNK, pos - from);
      pos -= len;
      const buf = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      chunks.unshift(buf.subarray(0, got));
      for (let i = 0; i < got; i++) if (buf[i] === 0x0a) newlines++;
    }
    // Decoded once, whole: a chunk boundary may split a multibyte character.
    const text = Buffer.concat(chunks).toString("utf8");
    const endsWithNewline = text.endsWith("\n");
    const lines = (endsWithNewline ? text.slice(0, -1) : text).split("\n");
    return { lines: text === "" ? [] : lines.slice(-n), size: st.size, ino: st.ino, dev: st.dev, endsWithNewline };
  } finally {
    await fh.close();
  }
}

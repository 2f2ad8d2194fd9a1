/**
 * A command's output, written to standard output before the process exits. process.stdout reports a
 * failed write (`> FILE` on a full disk) only in an 'error' event, which the exit comes before: the
 * command exited 0 with its output lost. Written here instead, and the errno looked at.
 */
import fs from "node:fs";
import { OutputError } from "../errors.js";

/**
 * What a write that stdout refused means: null when nobody reads any more (EPIPE: what was asked for is
 * not missed), else the OutputError (exit 15). `ranToEnd`: see OutputError.
 */
export function outputLost(err: NodeJS.ErrnoException, ranToEnd = true): OutputError | null {
  return err.code === "EPIPE" ? null : new OutputError(err.code ?? "EIO", ranToEnd);
}

/** Writes `text` to fd 1: null once written (or the reader has gone), else why it could not be (`ranToEnd`: see OutputError). */
export async function writeOutput(text: string, ranToEnd = true): Promise<OutputError | null> {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += fs.writeSync(1, bytes, done);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return outputLost(err as NodeJS.ErrnoException, ranToEnd);
  }
  // A non-blocking pipe that is full: process.stdout waits for the reader, and says how the write ended.
  return new Promise((resolve) => {
    const failed = (err: NodeJS.ErrnoException): void => resolve(outputLost(err, ranToEnd));
    // Kept, not removed in the callback: the stream emits 'error' a tick after it, and unheard it would crash.
    process.stdout.on("error", failed);
    process.stdout.write(bytes.subarray(done), (err) => (err ? failed(err) : resolve(null)));
  });
}

/**
 * writeOutput, and when the output was lost, the message on stderr only (stdout is what failed):
 * null when written, else the exit code to end with (15).
 */
export async function printOutput(text: string, ranToEnd = true): Promise<number | null> {
  const lost = await writeOutput(text, ranToEnd);
  if (!lost) return null;
  process.stderr.write(`profiles: ${lost.message}\n  next: ${lost.hint}\n`);
  return lost.exitCode;
}

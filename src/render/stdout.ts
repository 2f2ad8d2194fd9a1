/**
 * A command's output, written to standard output before the process exits. process.stdout reports a
 * failed write (`> FILE` on a full disk) only in an 'error' event, which the exit comes before: the
 * command exited 0 with its output lost. Written here instead, and the errno looked at.
 */
import fs from "node:fs";
import { OutputError } from "../errors.js";

/** Writes `text` to fd 1: null once written, or when nobody reads any more (EPIPE); else why it could not be. */
export async function writeOutput(text: string): Promise<OutputError | null> {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += fs.writeSync(1, bytes, done);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "EIO";
    if (code === "EPIPE") return null;
    if (code !== "EAGAIN") return new OutputError(code);
  }
  // A non-blocking pipe that is full: process.stdout waits for the reader, and says how the write ended.
  return new Promise((resolve) => {
    const failed = (err: NodeJS.ErrnoException): void => resolve(err.code === "EPIPE" ? null : new OutputError(err.code ?? "EIO"));
    // Kept, not removed in the callback: the stream emits 'error' a tick after it, and unheard it would crash.
    process.stdout.on("error", failed);
    process.stdout.write(bytes.subarray(done), (err) => (err ? failed(err) : resolve(null)));
  });
}

/** How a lost output is told, on stderr only (stdout is what failed), by every path that writes one. */
export function outputErrorText(err: OutputError): string {
  return `profiles: ${err.message}\n  next: ${err.hint}\n`;
}

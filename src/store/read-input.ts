/**
 * Input a user names (`--env-file`, a manifest, `--hosts-file`, standard input) read whole, but never past
 * INPUT_LIMIT: `--env-file /dev/zero` or a runaway pipe is refused at once instead of filling memory
 * (it grew to 4.5 GB in 30 s before). A named pipe with no writer still waits, as `cat` would.
 */
import { closeSync, openSync, readSync } from "node:fs";

/** More than any environment file, manifest or host list needs. */
export const INPUT_LIMIT = 8 * 1024 * 1024;

const CHUNK = 64 * 1024;

function tooLarge(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what} is larger than ${INPUT_LIMIT / 1024 / 1024} MiB`), { code: "EFBIG" });
}

/** The bytes of `file` (0: standard input), or an error: node's own, or EFBIG past INPUT_LIMIT. */
export function readInput(file: string | 0): Buffer {
  const fd = file === 0 ? 0 : openSync(file, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) return Buffer.concat(chunks, total);
      total += n;
      if (total > INPUT_LIMIT) throw tooLarge(file === 0 ? "standard input" : file);
      chunks.push(n === CHUNK ? chunk : chunk.subarray(0, n));
    }
  } finally {
    if (file !== 0) closeSync(fd);
  }
}

/** All of `stream` (standard input), or EFBIG past INPUT_LIMIT. */
export async function readStreamInput(stream: AsyncIterable<Buffer | string>, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (total > INPUT_LIMIT) throw tooLarge(what);
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

/** Why `err` (from readInput) stopped a read, in words after a file's name: `cannot be read (ENOENT)`, or that it is too large. */
export function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === "EFBIG" ? `is over the ${INPUT_LIMIT / 1024 / 1024} MiB that profiles reads of any input` : `cannot be read (${e.code ?? e.message})`;
}

/**
 * Input a user names (`--env-file`, a manifest, `--hosts-file`, standard input) read whole, but never past
 * INPUT_LIMIT: `--env-file /dev/zero` or a runaway pipe is refused at once instead of filling memory
 * (it grew to 4.5 GB in 30 s before). A named pipe with no writer still waits, as `cat` would.
 */
import { closeSync, openSync, readSync } from "node:fs";

/** More than any environment file, manifest or host list needs. */
export const INPUT_LIMIT = 8 * 1024 * 1024;
const TOO_LARGE = `is over the ${INPUT_LIMIT / 1024 / 1024} MiB that profiles reads of any input`;

/**
 * Bytes gathered into one buffer that doubles as it fills: input that comes a few bytes a write (a shell
 * loop into `<(...)`) costs what it holds, not a 64 KiB read buffer per write.
 */
class Gathered {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private size = 0;
  constructor(private readonly what: string) {}

  /** Room for the next read (at least one byte), past which the input is too large. */
  room(): Buffer {
    if (this.size === this.buf.length) {
      if (this.size > INPUT_LIMIT) throw tooLarge(this.what);
      const next = Buffer.allocUnsafe(Math.min(this.buf.length * 2, INPUT_LIMIT + 1));
      this.buf.copy(next, 0, 0, this.size);
      this.buf = next;
    }
    return this.buf.subarray(this.size);
  }

  grew(n: number): void {
    this.size += n;
    if (this.size > INPUT_LIMIT) throw tooLarge(this.what);
  }

  add(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; ) {
      const n = chunk.copy(this.room(), 0, at);
      this.grew(n);
      at += n;
    }
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.size);
  }
}

function tooLarge(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what} ${TOO_LARGE}`), { code: "EFBIG" });
}

/** The bytes of `file` (0: standard input), or an error: node's own, or EFBIG past INPUT_LIMIT. */
export function readInput(file: string | 0): Buffer {
  const fd = file === 0 ? 0 : openSync(file, "r");
  const gathered = new Gathered(file === 0 ? "standard input" : file);
  try {
    for (;;) {
      const room = gathered.room();
      const n = readSync(fd, room, 0, room.length, null);
      if (n === 0) return gathered.bytes();
      gathered.grew(n);
    }
  } finally {
    if (file !== 0) closeSync(fd);
  }
}

/** All of `stream` (standard input), or EFBIG past INPUT_LIMIT. */
export async function readStreamInput(stream: AsyncIterable<Buffer | string>, what: string): Promise<Buffer> {
  const gathered = new Gathered(what);
  for await (const chunk of stream) gathered.add(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return gathered.bytes();
}

/** Why `err` (from readInput) stopped a read, in words after a file's name: `cannot be read (ENOENT)`, or that it is too large. */
export function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === "EFBIG" ? TOO_LARGE : `cannot be read (${e.code ?? e.message})`;
}

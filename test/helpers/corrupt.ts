/** Damage a file the ways a disk or a careless hand does, in place, keeping its mode and owner. */
import fs from "node:fs/promises";

/** Cut the file to half its length (at least one byte goes). */
export async function truncateHalf(file: string): Promise<void> {
  const { size } = await fs.stat(file);
  await fs.truncate(file, Math.floor(size / 2));
}

/** Flip the lowest bit of the byte in the middle of the file; the length stays. */
export async function flipBit(file: string): Promise<void> {
  const bytes = await fs.readFile(file);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0x01;
  const fh = await fs.open(file, "r+");
  try {
    await fh.write(bytes, at, 1, at);
  } finally {
    await fh.close();
  }
}

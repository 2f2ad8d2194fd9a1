/** The sweep log: one JSON line per sweep in `<state>/sweeps.jsonl`, rotated to `sweeps.jsonl.1`. */
import fs from "node:fs/promises";
import path from "node:path";
import type { Paths } from "../../paths.js";
import { redactJson } from "../../redact.js";
import { ensureDir } from "../../store/atomic.js";

/** Past this size the file is moved to `.1` (replacing the older one) before the next line. */
export const REPORT_MAX_BYTES = 1024 * 1024;

/** The sweep log's path. */
export function reportFile(paths: Paths): string {
  return path.join(paths.stateDir, "sweeps.jsonl");
}

/** Append `record` as one line, redacted like every output; callers hold the sweep lock, so rotation does not race another sweep. */
export async function appendReport(paths: Paths, record: unknown, maxBytes = REPORT_MAX_BYTES): Promise<string> {
  const file = reportFile(paths);
  await ensureDir(paths.stateDir, 0o700);
  const line = redactJson(record) + "\n";
  const size = (await fs.stat(file).catch(() => null))?.size ?? 0;
  if (size > 0 && size + Buffer.byteLength(line) > maxBytes) await fs.rename(file, `${file}.1`);
  // O_APPEND: a reader tailing the file never sees a partial line from us.
  await fs.appendFile(file, line, { mode: 0o600 });
  return file;
}

/** Keys from a file in EnvironmentFile= syntax (`--env-file`, a manifest's `env-file`), read as systemd reads it. */
import { decodeBytes } from "./bytes.js";
import { parseEnv, type EnvEntries } from "./envfile.js";
import { readInput, readProblem } from "./read-input.js";

/** The file's keys, or why it cannot be used: unreadable, or a line systemd would drop or read otherwise, or a value it refuses. */
export function readEnvSource(file: string): EnvEntries | { problem: string } {
  let text: string;
  try {
    text = decodeBytes(readInput(file));
  } catch (err) {
    return { problem: `${file} ${readProblem(err)}` };
  }
  const { entries, problems, refused } = parseEnv(text);
  const p = problems[0] ?? refused[0];
  return p ? { problem: `${file}: line ${p.line}: ${p.message}` } : entries;
}

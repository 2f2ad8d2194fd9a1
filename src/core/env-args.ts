import { UsageError } from "../errors.js";
import { noteEntries } from "../secrets.js";
import { decodeBytes } from "../store/bytes.js";
import { readEnvSource } from "../store/env-source.js";
import { readProblem, readStreamInput } from "../store/read-input.js";
import { parseAssignment, valueProblem, type EnvEntries } from "../store/envfile.js";

/** Parse repeated `K=V` arguments into entries; the first bad one is a UsageError naming the rule. */
export function parseEnvArgs(args: readonly string[], flag: string): EnvEntries {
  const entries: EnvEntries = new Map();
  for (const arg of args) {
    const parsed = parseAssignment(arg);
    if ("problem" in parsed) throw new UsageError(`${flag}: ${parsed.problem}`, "values are KEY=VALUE, KEY of letters, digits and _");
    entries.set(parsed.key, parsed.value);
  }
  return entries;
}

/** `--env-file FILE`'s keys; a UsageError naming the file and its line when systemd would read it otherwise. */
export function envFileArg(file: string): EnvEntries {
  const keys = readEnvSource(file);
  if ("problem" in keys) throw new UsageError(`--env-file ${keys.problem}`, "the file uses systemd's EnvironmentFile= syntax: KEY=VALUE lines, values quoted where they hold spaces, # or quotes");
  return keys;
}

/**
 * The value of `key` from standard input, for `set NAME KEY --stdin`: from a terminal, typed without
 * echo up to Enter; otherwise all of it, without one trailing newline (nothing at all is refused). Never on the command line, so never
 * in `ps` or shell history. A value systemd cannot carry is a UsageError naming the key, not the value.
 */
export async function stdinValue(key: string, profile: string): Promise<string> {
  const piped = process.stdin.isTTY ? null : await readAll();
  // Nothing at all (`< /dev/null`, or `pass show x |` that failed) is no value: an empty secret would be
  // written without a word. A line, even an empty one, is a value.
  if (piped === "") throw new UsageError(`standard input is empty: no value for ${key} was given`, `to set an empty value, run \`profiles set ${profile} ${key}=\``);
  const value = piped === null ? await typedWithoutEcho(key) : piped.replace(/\r?\n$/, "");
  const problem = valueProblem(value);
  if (problem) throw new UsageError(`the value of ${key} ${problem}`);
  noteEntries(new Map([[key, value]]));
  return value;
}

/** All of stdin, as bytes decoded (`set --stdin`, and what `--host` sends each host). */
export async function readAll(): Promise<string> {
  try {
    return decodeBytes(await readStreamInput(process.stdin as AsyncIterable<Buffer>, "standard input"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EFBIG") throw err;
    throw new UsageError(`standard input ${readProblem(err)}`, "pipe the value alone (`profiles set NAME KEY --stdin < FILE`): a value is one line of text");
  }
}

function typedWithoutEcho(key: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(`value of ${key} (not shown): `);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const done = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const c of chunk) {
        if (c === "\r" || c === "\n") return done(), resolve(value);
        // Ctrl-C and Ctrl-D: nothing is set.
        if (c === "\u0003" || c === "\u0004") return done(), reject(new UsageError(`no value typed for ${key}; nothing was changed`));
        value = c === "\u007f" || c === "\b" ? value.slice(0, -1) : value + c;
      }
    };
    stdin.on("data", onData);
  });
}

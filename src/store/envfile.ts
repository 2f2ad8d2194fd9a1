/**
 * `.env` files as systemd's `EnvironmentFile=` reads them. The parser follows systemd 252's
 * `parse_env_file_internal` (src/basic/env-file.c) state by state, so that what we read back is what the
 * service gets; the writer emits one double-quoted `KEY="value"` per line, which that parser reads back
 * byte for byte.
 */

/** Keys and values in file order; a later duplicate replaces the earlier value, as in systemd. */
export type EnvEntries = Map<string, string>;

/** A line systemd would drop or read differently from what its author meant. */
export interface EnvProblem {
  line: number;
  message: string;
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const WHITESPACE = " \t\n\r";
const NEWLINE = "\n\r";
const COMMENTS = "#;";
// Inside double quotes systemd unescapes exactly these and keeps the backslash before anything else.
const SHELL_NEED_ESCAPE = '"\\`$';

/** The rule a key must follow (systemd's env_name_is_valid). */
export function keyProblem(key: string): string | null {
  return KEY_RE.test(key) ? null : "must start with a letter or _ and hold only letters, digits and _";
}

/** Why systemd cannot carry this value exactly, or null when it can. */
export function valueProblem(value: string): string | null {
  if (value.includes("\0")) return "contains a NUL byte, which an environment variable cannot hold";
  if (value.includes("\n") || value.includes("\r")) return "contains a line break, which an EnvironmentFile= value cannot carry";
  if (/[\uD800-\uDFFF]/u.test(value)) return "is not valid unicode (a lone surrogate)";
  return null;
}

/** Parse `.env` text the way systemd does; `problems` lists what systemd would drop or refuse. */
export function parseEnv(text: string): { entries: EnvEntries; problems: EnvProblem[] } {
  const entries: EnvEntries = new Map();
  const problems: EnvProblem[] = [];
  type State = "preKey" | "key" | "preValue" | "value" | "valueEscape" | "single" | "double" | "doubleEscape" | "comment" | "commentEscape";
  let state: State = "preKey";
  let line = 1;
  let keyLine = 1;
  let key = "";
  let value = "";
  let lastKeyWs = -1;
  let lastValueWs = -1;

  const push = (): void => {
    const k = lastKeyWs >= 0 ? key.slice(0, lastKeyWs) : key;
    const problem = keyProblem(k);
    if (problem) problems.push({ line: keyLine, message: `key "${k}" ${problem}; systemd ignores this line` });
    else entries.set(k, value);
    key = "";
    value = "";
  };

  for (const c of text) {
    switch (state) {
      case "preKey":
        if (COMMENTS.includes(c)) state = "comment";
        else if (!WHITESPACE.includes(c)) {
          state = "key";
          keyLine = line;
          lastKeyWs = -1;
          key = c;
        } else if (c === "\n") line++;
        break;
      case "key":
        if (NEWLINE.includes(c)) {
          problems.push({ line: keyLine, message: `the line has no "="; systemd ignores it` });
          state = "preKey";
          line++;
          key = "";
        } else if (c === "=") {
          state = "preValue";
          lastValueWs = -1;
        } else {
          if (!WHITESPACE.includes(c)) lastKeyWs = -1;
          else if (lastKeyWs < 0) lastKeyWs = key.length;
          key += c;
        }
        break;
      case "preValue":
        if (NEWLINE.includes(c)) {
          state = "preKey";
          line++;
          push();
        } else if (c === "'") state = "single";
        else if (c === '"') state = "double";
        else if (c === "\\") state = "valueEscape";
        else if (!WHITESPACE.includes(c)) {
          state = "value";
          value += c;
        }
        break;
      case "value":
        if (NEWLINE.includes(c)) {
          state = "preKey";
          line++;
          if (lastValueWs >= 0) value = value.slice(0, lastValueWs);
          push();
        } else if (c === "\\") {
          state = "valueEscape";
          lastValueWs = -1;
        } else {
          if (!WHITESPACE.includes(c)) lastValueWs = -1;
          else if (lastValueWs < 0) lastValueWs = value.length;
          value += c;
        }
        break;
      case "valueEscape":
        state = "value";
        if (!NEWLINE.includes(c)) value += c;
        else line++;
        break;
      case "single":
        if (c === "'") state = "preValue";
        else {
          if (c === "\n") line++;
          value += c;
        }
        break;
      case "double":
        if (c === '"') state = "preValue";
        else if (c === "\\") state = "doubleEscape";
        else {
          if (c === "\n") line++;
          value += c;
        }
        break;
      case "doubleEscape":
        state = "double";
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== "\n") value += "\\" + c;
        else line++;
        break;
      case "comment":
        if (c === "\\") state = "commentEscape";
        else if (NEWLINE.includes(c)) {
          state = "preKey";
          line++;
        }
        break;
      case "commentEscape":
        state = "comment";
        break;
    }
  }

  if (state === "single" || state === "double" || state === "doubleEscape") {
    problems.push({ line: keyLine, message: `the value of "${key}" has an unclosed quote` });
  }
  if (["preValue", "value", "valueEscape", "single", "double", "doubleEscape"].includes(state)) {
    if (state === "value" && lastValueWs >= 0) value = value.slice(0, lastValueWs);
    push();
  } else if (state === "key") {
    problems.push({ line: keyLine, message: `the line has no "="; systemd ignores it` });
  }
  if (text.includes("\0")) problems.push({ line: 0, message: "the file contains a NUL byte" });
  return { entries, problems };
}

/** Quote a value so that systemd's parser reads back exactly `value`. */
export function quoteValue(value: string): string {
  return `"${value.replace(/["\\`$]/g, (ch) => "\\" + ch)}"`;
}

/** Render entries as a `.env` file; callers validate keys and values first. */
export function serializeEnv(entries: EnvEntries, header?: string): string {
  const lines: string[] = [];
  if (header) for (const h of header.split("\n")) lines.push(`# ${h}`);
  for (const [k, v] of entries) lines.push(`${k}=${quoteValue(v)}`);
  return lines.join("\n") + "\n";
}

/** Parse `K=V` from the command line: the first `=` splits, the value is taken as is. */
export function parseAssignment(arg: string): { key: string; value: string } | { problem: string } {
  const eq = arg.indexOf("=");
  // The argument is not echoed: without its "=" it may be a secret pasted alone.
  if (eq < 0) return { problem: `an argument without "=" is not KEY=VALUE (it is not shown, in case it is a secret)` };
  if (eq === 0) return { problem: `an argument starting with "=" is not KEY=VALUE: the key is missing` };
  const key = arg.slice(0, eq);
  const value = arg.slice(eq + 1);
  const kp = keyProblem(key);
  if (kp) return { problem: `key "${key}" ${kp}` };
  const vp = valueProblem(value);
  if (vp) return { problem: `the value of ${key} ${vp}` };
  return { key, value };
}

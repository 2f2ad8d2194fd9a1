/**
 * `.env` files as systemd's `EnvironmentFile=` reads them. The parser follows systemd 252's
 * `parse_env_file_internal` (src/basic/env-file.c) state by state, so that what we read back is what the
 * service gets; the writer emits one double-quoted `KEY="value"` per line, which that parser reads back
 * byte for byte.
 */

import { noteEntries } from "../secrets.js";
import { firstRawByte } from "./bytes.js";

/** Keys and values in file order; a later duplicate replaces the earlier value, as in systemd. */
export type EnvEntries = Map<string, string>;

/** A line systemd would drop or read differently from what its author meant. */
export interface EnvProblem {
  line: number;
  message: string;
}

/** A value systemd's loader refuses, and with it the whole file: the unit then does not start. */
export interface EnvRefusal extends EnvProblem {
  key: string;
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

/**
 * Why systemd 252's EnvironmentFile= loader refuses `text` as a key or value (its check_utf8ness_and_warn),
 * or null. Seen on the real manager: one such value fails the whole file, and the start with it
 * (Result=resources): bytes that are not UTF-8 (text from `decodeBytes` carries them as U+DC80-U+DCFF),
 * and the noncharacters U+FDD0-U+FDEF and U+xFFFE/U+xFFFF, which systemd's unichar_is_valid refuses.
 */
export function systemdUtf8Problem(text: string): string | null {
  const raw = firstRawByte(text);
  if (raw !== null) return `is not valid UTF-8 (byte \\x${raw.toString(16).padStart(2, "0")})`;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return `holds U+${cp.toString(16).toUpperCase().padStart(4, "0")}, a Unicode noncharacter`;
  }
  return null;
}

/** What systemd does with a file holding such a value, for messages. */
export const REFUSED_FILE = 'systemd refuses the whole file ("Failed to load environment files") and the unit does not start';

/** Why systemd cannot carry this value exactly, or null when it can. */
export function valueProblem(value: string): string | null {
  if (value.includes("\0")) return "contains a NUL byte, which an environment variable cannot hold";
  if (value.includes("\n") || value.includes("\r")) return "contains a line break, which an EnvironmentFile= value cannot carry";
  if (/[\uD800-\uDFFF]/u.test(value)) return "is not valid unicode (a lone surrogate)";
  const utf8 = systemdUtf8Problem(value);
  if (utf8) return `${utf8}: ${REFUSED_FILE}`;
  return null;
}

/**
 * Parse `.env` text (from `decodeBytes`) the way systemd does; `problems` lists lines systemd would drop
 * or read otherwise, `refused` the values systemd refuses (with the whole file). Such a value is still
 * in `entries`, byte for byte, so that a change to another key keeps it.
 */
export function parseEnv(text: string): { entries: EnvEntries; problems: EnvProblem[]; refused: EnvRefusal[] } {
  const entries: EnvEntries = new Map();
  const problems: EnvProblem[] = [];
  const refused: EnvRefusal[] = [];
  type State = "preKey" | "key" | "preValue" | "value" | "valueEscape" | "single" | "double" | "doubleEscape" | "comment" | "commentEscape";
  let state: State = "preKey";
  let line = 1;
  let keyLine = 1;
  let key = "";
  let value = "";
  let lastKeyWs = -1;
  let lastValueWs = -1;
  let prev = "";

  const push = (): void => {
    const k = lastKeyWs >= 0 ? key.slice(0, lastKeyWs) : key;
    // systemd checks UTF-8 before the key's form: such a key fails the file, not just its line.
    const keyUtf8 = systemdUtf8Problem(k);
    const problem = keyUtf8 ? `${keyUtf8}: ${REFUSED_FILE}` : keyProblem(k);
    if (problem) problems.push({ line: keyLine, message: `key "${k}" ${problem}${keyUtf8 ? "" : "; systemd ignores this line"}` });
    else {
      const valueUtf8 = systemdUtf8Problem(value);
      if (valueUtf8) refused.push({ line: keyLine, key: k, message: `the value of ${k} ${valueUtf8}: ${REFUSED_FILE}` });
      entries.set(k, value);
    }
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
        }
        break;
      case "key":
        if (NEWLINE.includes(c)) {
          problems.push({ line: keyLine, message: `the line has no "="; systemd ignores it` });
          state = "preKey";
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
        break;
      case "single":
        if (c === "'") state = "preValue";
        else value += c;
        break;
      case "double":
        if (c === '"') state = "preValue";
        else if (c === "\\") state = "doubleEscape";
        else value += c;
        break;
      case "doubleEscape":
        state = "double";
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== "\n") value += "\\" + c;
        break;
      case "comment":
        if (c === "\\") state = "commentEscape";
        else if (NEWLINE.includes(c)) state = "preKey";
        break;
      case "commentEscape":
        state = "comment";
        break;
    }
    // A CRLF is one line break, a lone CR one too (each state above ends a line at either).
    if (c === "\r" || (c === "\n" && prev !== "\r")) line++;
    prev = c;
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
  // Every .env this process reads passes here: its values are noted so that output can be redacted.
  noteEntries(entries);
  return { entries, problems, refused };
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
  // Nor is a bad key: `ghp_ab-cd=ef` is a pasted token as much as a key with a dash.
  if (kp) return { problem: `the key (before the first "=") ${kp} (the argument is not shown, in case it is a secret)` };
  const vp = valueProblem(value);
  if (vp) return { problem: `the value of ${key} ${vp}` };
  noteEntries(new Map([[key, value]]));
  return { key, value };
}

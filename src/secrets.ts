/**
 * Which `.env` values are secrets, and every secret value this process has seen. The rule decides what
 * `env` and `diff` mask by key; the values noted here are what `redact.ts` takes out of every output,
 * wherever they appear verbatim (a gateway echoing its token in a log line, a URL in an error).
 */
import { escapeControls } from "./render/escape.js";

// Substrings of a key's name, any case: API_KEY, GITHUB_TOKEN, client_secret, DB_PASSWORD, PASSWD,
// MYSQL_PWD, OAUTH_..., GOOGLE_APPLICATION_CREDENTIALS, PRIVATE_..., SENTRY_DSN, SESSION_..., ...
const BUILTIN = [
  "KEY", "TOKEN", "SECRET", "PASS", "PWD", "AUTH", "CREDENTIAL", "PRIVATE", "DSN", "COOKIE", "SESSION",
  "SIGNATURE", "SALT", "BEARER", "JWT", "HMAC", "WEBHOOK", "CONNECTION_STRING", "MNEMONIC",
] as const;
const BUILTIN_RE = new RegExp(BUILTIN.join("|"), "i");

/** The built-in name fragments, for help and messages. */
export const SECRET_KEY_PARTS: readonly string[] = BUILTIN;

/** What a masked value prints as: fixed, so that not even its length shows. */
export const MASK = "********";

/**
 * Values shorter than this are not searched for in free text: masking `true`, `redis` or `3600`
 * wherever they appear would mangle output while hiding nothing worth hiding. They are still masked
 * where they are shown as their key's value (`env`, `diff`).
 */
export const MIN_SECRET_LENGTH = 8;

/** A name pattern of `config.ini`'s `[secrets] keys`: letters, digits, `_`, and `*` for any run of them. */
const PATTERN_RE = /^[A-Za-z0-9_*]+$/;

let extra: RegExp | null = null;
// Every key and value of every .env parsed, and values that are secret whatever their key (a webhook's
// password). Which keys are secrets is decided when output is redacted: config.ini may be read after a .env.
const pairs = new Map<string, Set<string>>();
const always = new Set<string>();
let forms: string[] | null = null;

/** Parse `FOO, BAR_*` (commas or spaces); the patterns, or why one is not a name pattern. */
export function parseSecretNames(text: string): string[] | { problem: string } {
  const names = text.split(/[\s,]+/).filter((s) => s !== "");
  const bad = names.find((n) => !PATTERN_RE.test(n));
  if (bad !== undefined) return { problem: "must be names of letters, digits and _, where * matches any run of them, separated by commas" };
  return names;
}

/** Names config.ini adds to the rule (whole names, `*` a wildcard, any case); replaces earlier ones. */
export function setSecretNames(patterns: readonly string[]): void {
  const parts = patterns.map((p) => p.split("*").map((s) => s.replace(/[^A-Za-z0-9_]/g, "")).join("[A-Za-z0-9_]*"));
  extra = parts.length > 0 ? new RegExp(`^(?:${parts.join("|")})$`, "i") : null;
  forms = null;
}

/** Whether the key's value is a secret: its name holds one of SECRET_KEY_PARTS, or config.ini names it. */
export function isSecretKey(key: string): boolean {
  return BUILTIN_RE.test(key) || (extra?.test(key) ?? false);
}

/** The value as it may be printed: MASK for a non-empty secret, the value itself otherwise. */
export function maskValue(key: string, value: string): string {
  // An empty secret reveals nothing, and "API_KEY is empty" is exactly what a reader needs to see.
  return isSecretKey(key) && value !== "" ? MASK : value;
}

/** A copy of `entries`, in the same order, with secret values masked. */
export function maskEntries(entries: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...entries].map(([k, v]) => [k, maskValue(k, v)]));
}

/** Note the keys and values of a `.env` read or given (every parse passes here), for redaction. */
export function noteEntries(entries: ReadonlyMap<string, string>): void {
  for (const [k, v] of entries) {
    if (v.length < MIN_SECRET_LENGTH) continue;
    let keys = pairs.get(v);
    if (!keys) pairs.set(v, (keys = new Set()));
    if (!keys.has(k)) {
      keys.add(k);
      forms = null;
    }
  }
}

/** Note a value that is a secret whatever it is called (a webhook URL's password or query values). */
export function noteSecret(value: string): void {
  if (value.length < MIN_SECRET_LENGTH || always.has(value)) return;
  always.add(value);
  forms = null;
}

/** Note the password, user and query values of a URL (a webhook's), which are secrets. */
export function noteUrlSecrets(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return;
  }
  for (const part of [u.username, u.password]) {
    noteSecret(part);
    noteSecret(safeDecode(part));
  }
  for (const [, v] of u.searchParams) noteSecret(v);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Every form a secret value may take in output, longest first (so that a longer secret holding a shorter
 * one is replaced whole): as is, with control characters escaped for a terminal, inside a JSON string,
 * inside a `.env` double-quoted value, and percent-encoded in a URL.
 */
export function secretForms(): readonly string[] {
  if (forms) return forms;
  const values = new Set(always);
  for (const [v, keys] of pairs) if ([...keys].some(isSecretKey)) values.add(v);
  const all = new Set<string>();
  for (const v of values) {
    all.add(v);
    all.add(escapeControls(v));
    all.add(JSON.stringify(v).slice(1, -1));
    all.add(v.replace(/["\\`$]/g, "\\$&"));
    all.add(encodeURIComponent(v));
  }
  forms = [...all].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  return forms;
}

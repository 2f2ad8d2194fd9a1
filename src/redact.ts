/**
 * The one step every output passes through: stdout (text and --json), stderr (messages, progress, pino
 * logs, the roll's task tree), sweeps.jsonl, the metrics textfile, the webhook body, roll.json, and the
 * gateway log lines shown on failure or by `logs`. It replaces every secret value noted in `secrets.ts`
 * with MASK wherever it appears, and strips userinfo, query and fragment from URLs.
 */
import { escapeLines } from "./render/escape.js";
import { MASK, MIN_SECRET_LENGTH, secretForms } from "./secrets.js";

// scheme://[userinfo@]host[path][?query][#fragment], ending at white space or a quote. The userinfo
// class allows "@" so that a password holding one is taken whole, up to the last "@" of the authority.
const URL_RE = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>`]*@)?([^\s/?#"'<>`]*)([^\s?#"'<>`]*)(\?[^\s#"'<>`]*)?(#[^\s"'<>`]*)?/gi;
// A cheap test before the replace: only URLs with userinfo, a query or a fragment change.
const URL_HINT_RE = /:\/\/[^\s"'<>`]*[@?#]/;

/** `https://user:pw@host/x?token=t` as `https://***@host/x?***`: who and what the URL carries is gone, where it goes stays. */
export function stripUrls(text: string): string {
  if (!URL_HINT_RE.test(text)) return text;
  return text.replace(URL_RE, (_m, scheme: string, user: string | undefined, host: string, path: string, query?: string, fragment?: string) =>
    `${scheme}${user ? "***@" : ""}${host}${path}${query ? "?***" : ""}${fragment ? "#***" : ""}`,
  );
}

/** `text` with every noted secret value masked and URLs stripped. */
export function redactText(text: string): string {
  return stripUrls(maskSecrets(text));
}

// The secret forms by their first MIN_SECRET_LENGTH characters (each list longest first, as secretForms
// gives them), made again when secretForms makes a new list.
const indexes = new WeakMap<readonly string[], Map<string, string[]>>();

function formIndex(forms: readonly string[]): Map<string, string[]> {
  let index = indexes.get(forms);
  if (index) return index;
  index = new Map();
  for (const f of forms) {
    const head = f.slice(0, MIN_SECRET_LENGTH);
    const list = index.get(head);
    if (list) list.push(f);
    else index.set(head, [f]);
  }
  indexes.set(forms, index);
  return index;
}

/**
 * `text` with each secret form masked, leftmost and longest first, in one pass over the text. A search
 * of the text per form was quadratic: `env` of a .env with 60,000 secret keys took 7 s.
 */
function maskSecrets(text: string): string {
  const forms = secretForms();
  if (forms.length === 0 || text.length < MIN_SECRET_LENGTH) return text;
  const index = formIndex(forms);
  let out = "";
  let from = 0;
  for (let i = 0; i + MIN_SECRET_LENGTH <= text.length; ) {
    const hit = index.get(text.slice(i, i + MIN_SECRET_LENGTH))?.find((f) => text.startsWith(f, i));
    if (hit === undefined) i++;
    else {
      out += text.slice(from, i) + MASK;
      i += hit.length;
      from = i;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A copy of `value` (JSON-like data) with every string redacted; keys and other values stay. */
export function redactData<T>(value: T): T {
  if (typeof value === "string") return redactText(value) as T;
  if (Array.isArray(value)) return value.map(redactData) as T;
  if (value !== null && typeof value === "object" && isPlain(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactData(v)])) as T;
  }
  return value;
}

function isPlain(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `value` as JSON, redacted. Strings are redacted one by one rather than the JSON text, so that a secret
 * made of digits cannot turn a number into `********` and the file into something that does not parse.
 * Serialised once and looked at first: most outputs hold nothing to redact.
 */
export function redactJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent);
  if (text === undefined) return "null";
  const touched = maskSecrets(text) !== text || URL_HINT_RE.test(text);
  return touched ? JSON.stringify(redactData(value), null, indent) : text;
}

/** Text for a terminal: redacted, then its control characters escaped (line breaks kept). */
export function peopleText(text: string): string {
  return escapeLines(redactText(text));
}

/**
 * A message of the argument parser (`Unknown argument: ...`) without the arguments it quotes: a stray
 * word of 8 characters or more may be a token pasted in the wrong place. Flags (`--name`) stay.
 */
export function hideArguments(message: string, argv: readonly string[]): string {
  let out = message;
  argv.forEach((arg, i) => {
    const shown = arg.startsWith("-") ? arg.slice(arg.indexOf("=") + 1 || arg.length) : arg;
    if (shown.length >= MIN_SECRET_LENGTH) out = out.replaceAll(shown, `(argument ${i + 1}, not shown)`);
  });
  return out;
}

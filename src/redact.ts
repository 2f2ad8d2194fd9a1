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

// Below this many forms a native search of the text per form is fastest (a 1 MB log of 2 secrets: 0.6 ms
// against 31 ms for the index); above, one pass with the index is (60,000 forms: 7 s against 2 s).
const FEW_FORMS = 32;

/** The secret forms by their first MIN_SECRET_LENGTH characters, and the first characters they start with. */
interface FormIndex {
  heads: Map<string, string[]>;
  firsts: Set<number>;
}

// Made again when secretForms makes a new list.
const indexes = new WeakMap<readonly string[], FormIndex>();

function formIndex(forms: readonly string[]): FormIndex {
  let index = indexes.get(forms);
  if (index) return index;
  index = { heads: new Map(), firsts: new Set() };
  for (const f of forms) {
    const head = f.slice(0, MIN_SECRET_LENGTH);
    const list = index.heads.get(head);
    if (list) list.push(f);
    else index.heads.set(head, [f]);
    index.firsts.add(f.charCodeAt(0));
  }
  indexes.set(forms, index);
  return index;
}

/** Where in `text` a secret form appears: [start, end) of each occurrence, overlaps included. */
function secretRanges(text: string, forms: readonly string[]): [number, number][] {
  const found: [number, number][] = [];
  if (forms.length < FEW_FORMS) {
    for (const f of forms) for (let at = text.indexOf(f); at >= 0; at = text.indexOf(f, at + 1)) found.push([at, at + f.length]);
    return found;
  }
  const { heads, firsts } = formIndex(forms);
  for (let i = 0; i + MIN_SECRET_LENGTH <= text.length; i++) {
    if (!firsts.has(text.charCodeAt(i))) continue;
    // Each list is longest first, as secretForms sorts them: the longest form that starts here.
    const f = heads.get(text.slice(i, i + MIN_SECRET_LENGTH))?.find((x) => text.startsWith(x, i));
    if (f !== undefined) found.push([i, i + f.length]);
  }
  return found;
}

/** `text` with every stretch that any secret form covers masked: two secrets that overlap leave nothing of either. */
function maskSecrets(text: string): string {
  const forms = secretForms();
  if (forms.length === 0 || text.length < MIN_SECRET_LENGTH) return text;
  const found = secretRanges(text, forms);
  if (found.length === 0) return text;
  found.sort((a, b) => a[0] - b[0]);
  let out = "";
  let from = 0;
  let [start, end] = found[0]!;
  for (const [s, e] of found) {
    if (s < end) end = Math.max(end, e);
    else {
      out += text.slice(from, start) + MASK;
      from = end;
      [start, end] = [s, e];
    }
  }
  return out + text.slice(from, start) + MASK + text.slice(end);
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

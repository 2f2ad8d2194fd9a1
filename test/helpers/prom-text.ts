/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (what node_exporter's textfile collector
 * reads), for tests: it throws, naming the line, on anything the format does not allow. Rules checked:
 * metric and label name syntax; label values quoted with only \\, \" and \n escapes; a value Go's
 * ParseFloat accepts (NaN, +Inf, -Inf included) and an optional integer timestamp; at most one HELP and
 * one TYPE per family, both before its first sample; a family's samples in one group; no series twice;
 * histogram/summary suffixes belong to their family; the text ends with a newline.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs: number | null;
}

export interface Family {
  name: string;
  help: string | null;
  type: MetricType;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN|nan)$/;

class ParseError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

function parseFloatStrict(text: string, line: number): number {
  if (!FLOAT.test(text)) throw new ParseError(line, `"${text}" is not a float`);
  if (/^[+-]?inf$/i.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  return Number(text);
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new ParseError(line, `invalid escape \\${c} in HELP`);
  });
}

/** Parse `{a="1",b="2"}` starting at text[i] === "{"; returns the labels and the index after "}". */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const skipBlank = () => {
    while (text[i] === " " || text[i] === "\t") i++;
  };
  for (;;) {
    skipBlank();
    if (text[i] === "}") return { labels, end: i + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!nameMatch) throw new ParseError(line, `bad label name at column ${i + 1}`);
    const name = nameMatch[0];
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new ParseError(line, `label name "${name}" is reserved or invalid`);
    if (name in labels) throw new ParseError(line, `label "${name}" given twice`);
    i += name.length;
    skipBlank();
    if (text[i] !== "=") throw new ParseError(line, `expected = after label "${name}"`);
    i++;
    skipBlank();
    if (text[i] !== '"') throw new ParseError(line, `label "${name}": value must be double-quoted`);
    i++;
    let value = "";
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ParseError(line, `label "${name}": unterminated value`);
      if (c === '"') break;
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else throw new ParseError(line, `label "${name}": invalid escape \\${e ?? ""}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    labels[name] = value;
    skipBlank();
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text[i] === "}") return { labels, end: i + 1 };
    throw new ParseError(line, `expected , or } after label "${name}"`);
  }
}

// histogram and summary families own their suffixed series.
function familyOf(sampleName: string, families: Map<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return base;
  }
  return sampleName;
}

/** Parse a whole exposition; families in the order they appear. Throws with the line number on any violation. */
export function parsePromText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith("\n")) throw new ParseError(text.split("\n").length, "the text must end with a newline");
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | null = null;
  const get = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: null, type: "untyped", samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const switchTo = (name: string, line: number): void => {
    if (current === name) return;
    if (closed.has(name)) throw new ParseError(line, `samples or metadata of "${name}" are not in one group`);
    if (current !== null) closed.add(current);
    current = name;
  };
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (!m) return; // an ordinary comment
      const [, kind, name, rest = ""] = m as unknown as [string, "HELP" | "TYPE", string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new ParseError(n, `bad metric name "${name}"`);
      switchTo(name, n);
      const f = get(name);
      if (kind === "HELP") {
        if (f.help !== null) throw new ParseError(n, `second HELP for "${name}"`);
        f.help = unescapeHelp(rest, n);
      } else {
        const type = rest.trim() as MetricType;
        if (!TYPES.has(type)) throw new ParseError(n, `unknown type "${rest}" for "${name}"`);
        if (f.samples.length > 0) throw new ParseError(n, `TYPE of "${name}" after its samples`);
        if ((f as Family & { typed?: boolean }).typed) throw new ParseError(n, `second TYPE for "${name}"`);
        (f as Family & { typed?: boolean }).typed = true;
        f.type = type;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) throw new ParseError(n, `a sample must start with a metric name: "${raw}"`);
    const sampleName = nameMatch[0];
    let i = sampleName.length;
    let labels: Record<string, string> = {};
    if (raw[i] === "{") ({ labels, end: i } = parseLabels(raw, i, n));
    const rest = raw.slice(i);
    if (!/^[ \t]/.test(rest)) throw new ParseError(n, `expected a blank before the value of "${sampleName}"`);
    const words = rest.trim().split(/[ \t]+/);
    if (words.length < 1 || words.length > 2 || words[0] === "") throw new ParseError(n, `expected "value [timestamp]", got "${rest.trim()}"`);
    const value = parseFloatStrict(words[0]!, n);
    let timestampMs: number | null = null;
    if (words[1] !== undefined) {
      if (!/^-?\d+$/.test(words[1])) throw new ParseError(n, `timestamp "${words[1]}" is not an integer`);
      timestampMs = Number(words[1]);
    }
    const familyName = familyOf(sampleName, families);
    switchTo(familyName, n);
    const key = `${sampleName}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new ParseError(n, `series ${sampleName}${JSON.stringify(labels)} given twice`);
    series.add(key);
    get(familyName).samples.push({ name: sampleName, labels, value, timestampMs });
  });
  for (const f of families.values()) delete (f as Family & { typed?: boolean }).typed;
  return families;
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const f of families.values()) {
    for (const s of f.samples) if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want) return s.value;
  }
  return undefined;
}

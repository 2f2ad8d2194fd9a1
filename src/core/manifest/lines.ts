/**
 * The manifest's INI text as lines: sections and `key = value` entries, each with the line it is on. The
 * `ini` package decodes each value (quotes, `\;` escapes, comments), but drops line numbers and lets a
 * repeated key or section win silently; this scan keeps both, so that every error names its line.
 */
import ini from "ini";

/** One `key = value` line of a section. */
export interface ManifestEntry {
  key: string;
  value: string;
  line: number;
}

/** A `[section]` and its entries in file order. */
export interface ManifestSection {
  /** The header as written between the brackets, trimmed. */
  header: string;
  line: number;
  entries: ManifestEntry[];
}

/** A problem at a line of the manifest (1-based). */
export interface LineProblem {
  line: number;
  message: string;
}

// A comment may follow a section's "]", and a quoted value's closing quote (the `ini` package would cut such a value at the comment).
const SECTION_RE = /^\[([^\]]*)\]\s*(?:[;#].*)?$/;
const QUOTED_RE = /^("(?:[^"\\]|\\.)*"|'[^']*')\s*(?:[;#].*)?$/;
const ENTRY_RE = /^([^=]*?)\s*=\s*(.*)$/;

/** Split `text` into sections; the first problem found is returned instead (a key before any section, a line that is no entry, a key twice). */
export function scanSections(text: string): ManifestSection[] | LineProblem {
  const sections: ManifestSection[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith(";") || trimmed.startsWith("#")) continue;
    const section = SECTION_RE.exec(trimmed);
    if (section) {
      sections.push({ header: section[1]!.trim().replace(/\s+/g, " "), line, entries: [] });
      continue;
    }
    const entry = ENTRY_RE.exec(trimmed);
    if (!entry || entry[1] === "") return { line, message: 'is not "key = value", a [section] or a comment' };
    const current = sections.at(-1);
    if (!current) return { line, message: `"${entry[1]}" comes before any section: put it under [defaults] or [profile NAME]` };
    const key = entry[1]!;
    const earlier = current.entries.find((e) => e.key === key);
    if (earlier) return { line, message: `"${key}" is set twice in [${current.header}] (first at line ${earlier.line})` };
    const quoted = QUOTED_RE.exec(entry[2]!);
    current.entries.push({ key, value: ini.unsafe(quoted ? quoted[1]! : entry[2]!), line });
  }
  return sections;
}

// Control characters (C0, DEL, C1) and bytes that are not UTF-8: quoted and escaped, so that the text holds none.
const UNPRINTABLE_RE = /[\x00-\x1f\x7f-\x9f\ud800-\udfff]/;

/** `value` as a manifest writes it: as is when the `ini` package reads it back unchanged, else JSON-quoted (JSON.parse reads it back). */
export function quoteManifestValue(value: string): string {
  const plain = ini.safe(value);
  if (!UNPRINTABLE_RE.test(value) && ini.unsafe(plain) === value) return plain;
  return JSON.stringify(value).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

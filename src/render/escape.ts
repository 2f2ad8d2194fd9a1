/**
 * Control characters in text for people, written as C-style escapes (as bash's `$'...'` reads them):
 * ESC as `\e`, tab, newline and carriage return as `\t`, `\n`, `\r`, every other C0 control, DEL and the
 * C1 controls as `\xNN` (the character's code). A value from a file (a `.env` edited by hand, a gateway's
 * log line) then cannot move the cursor, recolour, retitle or clear the terminal it is printed on. A byte
 * that is not UTF-8 (the store carries it as U+DC80-U+DCFF, see store/bytes.ts) prints as `\xNN` too.
 * Backslashes are left as they are; `--json` output keeps the exact strings.
 */

// C0, DEL and C1 (the Unicode category Cc), and a raw byte: a low surrogate that ends no pair.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;
const NAMED: Record<string, string> = { "\u001b": "\\e", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** `text` with every control character escaped, newlines too: for one value, name or line. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\x${(c.charCodeAt(0) & 0xff).toString(16).padStart(2, "0")}`);
}

/** `text` with every control character escaped except its line breaks: for lines of output. */
export function escapeLines(text: string): string {
  return text.split("\n").map(escapeControls).join("\n");
}

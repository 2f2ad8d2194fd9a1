/**
 * File bytes as strings, without loss. A `.env` edited by hand may hold bytes that are not UTF-8;
 * decoded as UTF-8 each would become U+FFFD, and the next write would replace the operator's bytes. The
 * store decodes as Python's "surrogateescape" does (PEP 383): well-formed UTF-8 as its characters, every
 * other byte 0x80-0xFF as the lone surrogate U+DC80-U+DCFF, which well-formed UTF-8 never produces.
 * `encodeText` maps them back, so `encodeText(decodeBytes(b))` is `b`, byte for byte.
 */
import { isUtf8 } from "node:buffer";

const ESCAPE = 0xdc00;
// A low surrogate that is not the second half of a pair.
const LONE_ESCAPE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

const cont = (b: Uint8Array, i: number, lo = 0x80, hi = 0xbf): boolean => i < b.length && b[i]! >= lo && b[i]! <= hi;

/** Length of the well-formed UTF-8 sequence starting at `i` (Unicode's Table 3-7), or 0 when none does. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(b, i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // E0 would be overlong below A0; ED above 9F would encode a surrogate.
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(b, i + 1, lo, hi) && cont(b, i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    // F0 would be overlong below 90; F4 above 8F is past U+10FFFF.
    const [lo, hi] = c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(b, i + 1, lo, hi) && cont(b, i + 2) && cont(b, i + 3) ? 4 : 0;
  }
  return 0;
}

/** A file's bytes as a string: UTF-8 where they are, each other byte as U+DC80-U+DCFF. */
export function decodeBytes(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return buf.toString("utf8");
  let out = "";
  let run = 0;
  for (let i = 0; i < buf.length; ) {
    const n = sequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += buf.toString("utf8", run, i) + String.fromCharCode(ESCAPE + buf[i]!);
    run = ++i;
  }
  return out + buf.toString("utf8", run);
}

/** The exact bytes a string from `decodeBytes` came from; other strings as UTF-8. */
export function encodeText(text: string): Buffer {
  if (!LONE_ESCAPE.test(text)) return Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const prev = i > 0 ? text.charCodeAt(i - 1) : 0;
    if (c < 0xdc80 || c > 0xdcff || (prev >= 0xd800 && prev <= 0xdbff)) continue;
    parts.push(Buffer.from(text.slice(run, i), "utf8"), Buffer.of(c - ESCAPE));
    run = i + 1;
  }
  parts.push(Buffer.from(text.slice(run), "utf8"));
  return Buffer.concat(parts);
}

/** The first byte of `text` that is not UTF-8 (as `decodeBytes` escaped it), or null when there is none. */
export function firstRawByte(text: string): number | null {
  const m = LONE_ESCAPE.exec(text);
  return m ? m[0].charCodeAt(0) - ESCAPE : null;
}

/**
 * Method calls as D-Bus wire bytes (little-endian), for the few body shapes this adapter sends: strings,
 * object paths, booleans, uint32s and arrays of strings. dbus-next marshals a call through a signature
 * parser, a conversion of the body and a buffer builder of many small buffers, which in a short-lived
 * CLI (its code never warms up) cost ~0.3 ms of CPU per call and most of the garbage collection:
 * `list --json` of 50 profiles makes 151 calls (BENCHMARKS.md). Anything else is left to dbus-next.
 * The layout: https://dbus.freedesktop.org/doc/dbus-specification.html#message-protocol-messages
 */

/** What a method call needs on the wire; dbus-next's Message has these fields. */
export interface WireCall {
  serial: number | null;
  flags?: number;
  path?: string | null;
  interface?: string | null;
  member?: string | null;
  destination?: string | null;
  signature?: string | null;
  body?: unknown[];
  /** Fields a method call does not carry; with any of them set, the call is left to dbus-next. */
  errorName?: string | null;
  replySerial?: number | string | null;
  sender?: string | null;
}

const LITTLE_ENDIAN = 0x6c; // 'l'
const METHOD_CALL = 1;
const PROTOCOL_VERSION = 1;
const MAX_UINT32 = 0xffff_ffff;

/** Header fields in dbus-next's order (the field's code, and its type), so that the bytes are the ones it would write. */
const FIELDS = [
  ["path", 1, "o"],
  ["interface", 2, "s"],
  ["member", 3, "s"],
  ["destination", 6, "s"],
  ["signature", 8, "g"],
] as const;

/** One body argument's type: the codes it may take, and `as` as one. */
type ArgType = "s" | "o" | "g" | "b" | "u" | "as";

/** The argument types of `signature`, or null when it holds a type this does not write. */
function argTypes(signature: string): ArgType[] | null {
  const types: ArgType[] = [];
  for (let i = 0; i < signature.length; i++) {
    const c = signature[i];
    if (c === "a" && signature[i + 1] === "s") {
      types.push("as");
      i++;
    } else if (c === "s" || c === "o" || c === "g" || c === "b" || c === "u") types.push(c);
    else return null;
  }
  return types;
}

/** Whether `value` can be written as `type` here; anything else goes to dbus-next, which says what is wrong. */
function fits(type: ArgType, value: unknown): boolean {
  switch (type) {
    case "as":
      return Array.isArray(value) && value.every((v) => plainString(v));
    case "b":
      return typeof value === "boolean";
    case "u":
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_UINT32;
    case "g":
      // A signature's length is one byte, and its characters ASCII.
      return plainString(value) && value.length <= 255 && !/[^\x21-\x7e]/.test(value);
    default:
      return plainString(value);
  }
}

/** A D-Bus string holds no NUL (its terminator); a signature and a path are ASCII, checked by dbus-next when the Message is made. */
function plainString(value: unknown): value is string {
  return typeof value === "string" && !value.includes("\0");
}

/** Sequential writes into a buffer sized beforehand; padding stays zero. */
class Writer {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  align(n: number): void {
    this.pos = (this.pos + n - 1) & ~(n - 1);
  }

  byte(v: number): void {
    this.buf[this.pos++] = v;
  }

  uint32(v: number): void {
    this.align(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  string(s: string): void {
    this.align(4);
    const n = this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n + 1;
  }

  signature(s: string): void {
    this.buf[this.pos] = s.length;
    this.buf.write(s, this.pos + 1, "latin1");
    this.pos += 1 + s.length + 1;
  }

  value(type: ArgType, v: unknown): void {
    if (type === "g") this.signature(v as string);
    else if (type === "b") this.uint32(v ? 1 : 0);
    else if (type === "u") this.uint32(v as number);
    else if (type === "as") {
      this.uint32(0);
      const lengthAt = this.pos - 4;
      // A string's alignment (4) is the length field's: no padding before the first element.
      const start = this.pos;
      for (const s of v as string[]) this.string(s);
      this.buf.writeUInt32LE(this.pos - start, lengthAt);
    } else this.string(v as string);
  }
}

/** An upper bound of the bytes `value` takes as `type`, padding included. */
function sizeOf(type: ArgType, value: unknown): number {
  if (type === "b" || type === "u") return 8;
  if (type === "as") return 8 + (value as string[]).reduce((n, s) => n + 8 + Buffer.byteLength(s), 0);
  return 8 + Buffer.byteLength(value as string);
}

/** The wire bytes of method call `msg`, as dbus-next would write them; null when its body holds a type this does not write. */
export function encodeMethodCall(msg: WireCall): Buffer | null {
  const signature = msg.signature ?? "";
  const body = msg.body ?? [];
  const types = argTypes(signature);
  if (types === null || types.length !== body.length || !types.every((t, i) => fits(t, body[i]))) return null;
  const serial = msg.serial;
  if (serial === null || !Number.isInteger(serial) || serial <= 0 || serial > MAX_UINT32) return null;
  if (msg.errorName || msg.replySerial || msg.sender) return null;

  const fields = FIELDS.filter(([name]) => Boolean(msg[name])).map(([name, code, type]) => [code, type, msg[name] as string] as const);
  if (!fields.every(([, , v]) => plainString(v))) return null;
  const bodySize = types.reduce((n, t, i) => n + sizeOf(t, body[i]), 0);
  const fieldsSize = fields.reduce((n, [, , v]) => n + 16 + Buffer.byteLength(v), 0);
  const w = new Writer(16 + fieldsSize + 8 + bodySize);

  // The fixed header; the body's length is filled in once the body is written.
  w.byte(LITTLE_ENDIAN);
  w.byte(METHOD_CALL);
  w.byte(msg.flags ?? 0);
  w.byte(PROTOCOL_VERSION);
  w.uint32(0);
  w.uint32(serial);
  // Header fields, a(yv): the array's byte length, then each (code, variant) struct at an 8-byte boundary.
  w.uint32(0);
  const fieldsStart = w.pos; // 16: already 8-aligned
  for (const [code, type, value] of fields) {
    w.align(8);
    w.byte(code);
    w.signature(type);
    w.value(type, value);
  }
  w.buf.writeUInt32LE(w.pos - fieldsStart, 12);
  w.align(8);
  const bodyStart = w.pos;
  types.forEach((t, i) => w.value(t, body[i]));
  w.buf.writeUInt32LE(w.pos - bodyStart, 4);
  return w.buf.subarray(0, w.pos);
}

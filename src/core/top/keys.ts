/** `top`'s keys: bytes read from a terminal in raw mode, turned into what they ask for. */
import { SORT_KEYS, type SortKey } from "./model.js";

/** What a key asks `top` to do. */
export type KeyAction =
  | { kind: "quit" }
  | { kind: "sort"; key: SortKey }
  /** The filter as typed so far (`/` begins it, each key changes it); `done` once Enter ends it, null text when Esc cancelled it. */
  | { kind: "filter"; text: string | null; done: boolean };

const CTRL_C = "\u0003";
const ESC = "\u001b";
const BACKSPACES = new Set(["\u007f", "\b"]);
// A terminal sends arrows and function keys as ESC [ ... or ESC O ...: swallowed whole, never typed into the filter.
const ESCAPE_SEQUENCE = /^\u001b(?:\[[0-9;?]*[ -/]*[@-~]|O.)/;

/** Reads keys; it remembers whether a filter is being typed, and what it held before `/`. */
export class KeyReader {
  private editing: string | null = null;

  /** Whether a filter is being typed (`/` pressed, not yet Enter or Esc). */
  get typing(): boolean {
    return this.editing !== null;
  }

  /** The actions the bytes of one read ask for, in order. */
  read(chunk: string): KeyAction[] {
    const actions: KeyAction[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      const seq = ESCAPE_SEQUENCE.exec(rest);
      if (seq) {
        rest = rest.slice(seq[0].length);
        continue;
      }
      const c = [...rest][0]!;
      rest = rest.slice(c.length);
      const action = this.editing === null ? this.command(c) : this.edit(c);
      if (action) actions.push(action);
    }
    return actions;
  }

  private command(c: string): KeyAction | null {
    if (c === "q" || c === CTRL_C) return { kind: "quit" };
    if (c === "/") {
      this.editing = "";
      return { kind: "filter", text: "", done: false };
    }
    const key = SORT_KEYS[c];
    return key ? { kind: "sort", key } : null;
  }

  private edit(c: string): KeyAction | null {
    if (c === CTRL_C) return { kind: "quit" };
    if (c === "\r" || c === "\n") {
      const text = this.editing ?? "";
      this.editing = null;
      return { kind: "filter", text, done: true };
    }
    if (c === ESC) {
      this.editing = null;
      return { kind: "filter", text: null, done: true };
    }
    if (BACKSPACES.has(c)) this.editing = [...(this.editing ?? "")].slice(0, -1).join("");
    // Other control characters are not text anyone types into a filter.
    else if (c >= " ") this.editing += c;
    else return null;
    return { kind: "filter", text: this.editing, done: false };
  }
}

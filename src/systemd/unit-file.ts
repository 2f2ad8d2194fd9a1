/**
 * Edit systemd unit files as lines, keeping comments, order and duplicate keys (ini collapses them).
 * Only what `profiles init` needs: replace a key's assignments within a section.
 */

/** Set `key` in `section` to `values` (one line each), replacing every earlier assignment there. */
export function setUnitKey(text: string, section: string, key: string, values: string[]): string {
  const lines = text.split("\n");
  const out: string[] = [];
  let current = "";
  let inserted = false;
  let sectionSeen = false;
  const flushAt = (): void => {
    if (current === section && !inserted) {
      // Place new keys before trailing blank lines of the section.
      let i = out.length;
      while (i > 0 && out[i - 1]!.trim() === "") i--;
      out.splice(i, 0, ...values.map((v) => `${key}=${v}`));
      inserted = true;
    }
  };
  for (const line of lines) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      flushAt();
      current = header[1]!;
      if (current === section) sectionSeen = true;
      out.push(line);
      continue;
    }
    const assignment = /^\s*([A-Za-z0-9_-]+)\s*=/.exec(line);
    if (current === section && assignment && assignment[1] === key) {
      if (!inserted) {
        out.push(...values.map((v) => `${key}=${v}`));
        inserted = true;
      }
      continue;
    }
    out.push(line);
  }
  flushAt();
  if (!sectionSeen) {
    if (out.length > 0 && out[out.length - 1] === "") out.pop();
    out.push("", `[${section}]`, ...values.map((v) => `${key}=${v}`), "");
  }
  return out.join("\n");
}

/** Read the values of `key` in `section`. */
export function getUnitKey(text: string, section: string, key: string): string[] {
  let current = "";
  const values: string[] = [];
  for (const line of text.split("\n")) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    const m = /^\s*([A-Za-z0-9_-]+)\s*=(.*)$/.exec(line);
    if (current === section && m && m[1] === key) values.push(m[2]!.trim());
  }
  return values;
}

/** Quote one argument for an Exec*= line so that systemd passes it through unchanged (no specifiers, no $ expansion). */
export function quoteExecArg(arg: string): string {
  const escaped = arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return `"${escaped}"`;
}

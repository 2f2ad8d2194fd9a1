/** Render rows as aligned columns for a terminal; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** A table's headers and cells, with a HOST column first when any row came from another host (`--host`). */
export function withHost<R extends { host?: string }>(headers: string[], rows: readonly R[], cells: (r: R) => string[]): [string[], string[][]] {
  if (!rows.some((r) => r.host !== undefined)) return [headers, rows.map(cells)];
  return [["HOST", ...headers], rows.map((r) => [r.host ?? "-", ...cells(r)])];
}

/** A profile's name as people read it: `HOST/NAME` when it came from another host. */
export function profileLabel(r: { name: string; host?: string }): string {
  return r.host === undefined ? r.name : `${r.host}/${r.name}`;
}

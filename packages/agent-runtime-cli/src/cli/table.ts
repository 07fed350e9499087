/**
 * Rows as aligned columns, two spaces apart, the first row a header: what `sessions list`, `ps`
 * and `sessions top` print. Columns `rightAligned` says are padded on the left (numbers).
 */
export function formatTable(
  rows: string[][],
  rightAligned: (column: number) => boolean = () => false,
): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => (rightAligned(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

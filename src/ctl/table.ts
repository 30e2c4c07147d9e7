// Plain-text tables for `warren ctl`: a header row and aligned columns, numbers right-aligned.

export interface Column {
  title: string;
  value(row: Record<string, unknown>): unknown;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function formatTable(columns: Column[], rows: Record<string, unknown>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...cells.map((row) => cell(row[index]).length)),
  );
  const line = (values: unknown[], isHeader: boolean) =>
    values
      .map((value, index) => {
        const text = isHeader ? String(value) : cell(value);
        return typeof value === 'number' && !isHeader
          ? text.padStart(widths[index]!)
          : text.padEnd(widths[index]!);
      })
      .join('  ')
      .trimEnd();
  return [
    line(
      columns.map((column) => column.title),
      true,
    ),
    ...cells.map((row) => line(row, false)),
  ].join('\n');
}

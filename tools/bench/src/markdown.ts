/** One column of a markdown table: numbers are right-aligned. */
export interface Column {
  title: string;
  align?: 'right';
}

/** A markdown table: header, alignment line, one line per row of cells. */
export function markdownTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(columns.map((c) => c.title)), line(columns.map((c) => (c.align === 'right' ? '---:' : '---'))), ...rows.map(line)].join(
    '\n',
  );
}

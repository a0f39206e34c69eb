/**
 * Plain-text tables for the commands a person reads (status, queues, topics): one header row
 * in capitals, columns padded to their widest cell, numbers aligned right. Pure.
 */

export type Cell = string | number | null | undefined;

export interface Column {
  header: string;
  /** Right-aligned (numbers); default: right-aligned when every cell of the column is a number. */
  align?: 'left' | 'right';
}

/** Columns separated by two spaces; an empty cell shows as `-`. Ends with a newline. */
export function formatTable(columns: ReadonlyArray<Column | string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  const specs = columns.map((column) => (typeof column === 'string' ? { header: column } : column));
  const text = rows.map((row) => specs.map((_, i) => show(row[i])));
  const widths = specs.map((spec, i) => Math.max(spec.header.length, ...text.map((cells) => cells[i]!.length)));
  const alignments = specs.map((spec, i) => spec.align ?? (rows.length > 0 && rows.every((row) => typeof row[i] === 'number') ? 'right' : 'left'));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (alignments[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(specs.map((spec) => spec.header)), ...text.map(line)].join('\n') + '\n';
}

function show(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  return String(cell);
}

/** `3h 12m`, `4m 05s`, `12s`: how long something has run, for people. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { DataError } from './errors.ts';
import { DEFAULT_MAX_LINE_BYTES, splitLines } from './lines.ts';
import type { DataFormat, DataInput } from './types.ts';

/** One row as found in the file: a parsed value, or why it could not be parsed. */
export type RawRecord = { line: number; row: unknown } | { line: number; error: string };

export function sourceName(input: DataInput): string {
  return typeof input === 'string' ? input : input.name;
}

/** The reason given for a JSONL line longer than the cap. */
export const LINE_TOO_LONG = 'line too long';

/**
 * Streams the rows of a JSONL or CSV file (optionally gzipped). CSV rows become objects keyed by
 * the header; `requiredColumns` must be in that header.
 *
 * No more than `maxLineBytes` of a row is ever held: a longer JSONL line is a bad row ('line too
 * long', skipped unread up to its line break); a longer CSV record fails the file (csv-parse cannot
 * find the next record after it, and it is most often an unclosed quote swallowing the rest).
 */
export async function* readRecords(
  input: DataInput,
  format: DataFormat | undefined,
  requiredColumns: readonly string[],
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<RawRecord, void, undefined> {
  const source = sourceName(input);
  const fmt = format ?? formatFromName(source);
  const bytes = openBytes(input, fmt.endsWith('.gz'));
  try {
    if (fmt.startsWith('csv')) yield* csvRecords(bytes, requiredColumns, source, maxLineBytes);
    else yield* jsonlRecords(bytes, maxLineBytes);
  } catch (err) {
    throw asDataError(source, err, maxLineBytes);
  } finally {
    // Also closes the file when the caller stops early.
    bytes.destroy();
  }
}

function formatFromName(name: string): DataFormat {
  const lower = name.toLowerCase();
  const format = (['jsonl.gz', 'csv.gz', 'jsonl', 'csv'] as const).find((f) => lower.endsWith(`.${f}`));
  if (!format) {
    throw new DataError(`${name}: cannot tell the format from the name; pass format 'jsonl', 'jsonl.gz', 'csv' or 'csv.gz'`);
  }
  return format;
}

function openBytes(input: DataInput, gzip: boolean): Readable {
  let raw: Readable;
  if (typeof input !== 'string') {
    raw = input.stream instanceof Readable ? input.stream : Readable.from(input.stream);
  } else if (input.startsWith('file://')) {
    raw = createReadStream(fileURLToPath(input));
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw new DataError(`${input}: only local paths and file:// URIs are read directly; open other stores as { stream, name }`);
  } else {
    raw = createReadStream(input);
  }
  // pipeline (unlike pipe) forwards a source error, e.g. a missing file, to the stream we read.
  return gzip ? pipeline(raw, createGunzip(), () => {}) : raw;
}

async function* jsonlRecords(bytes: Readable, maxLineBytes: number): AsyncGenerator<RawRecord> {
  for await (const next of splitLines(bytes, maxLineBytes)) {
    const { line } = next;
    if ('tooLong' in next) {
      yield { line, error: LINE_TOO_LONG };
      continue;
    }
    const { text } = next;
    if (text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line === 1 ? text.replace(/^\uFEFF/, '') : text);
    } catch {
      yield { line, error: 'invalid JSON' };
      continue;
    }
    yield { line, row };
  }
}

async function* csvRecords(
  bytes: Readable,
  requiredColumns: readonly string[],
  source: string,
  maxLineBytes: number,
): AsyncGenerator<RawRecord> {
  // relax_column_count: a short or long record is one bad row, not a failed file.
  // max_record_size: csv-parse buffers a record (and its raw text) whole; past the cap it fails instead.
  const parser = pipeline(
    bytes,
    parse({ raw: true, bom: true, skip_empty_lines: true, relax_column_count: true, max_record_size: maxLineBytes }),
    () => {},
  );
  let header: string[] | undefined;
  let nextLine = 1;
  for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
    // csv-parse reports the line a record ends on; count breaks in the raw text (which includes
    // the skipped blank lines before it) to get the line it starts on.
    const line = nextLine + lineBreaks(/^[\r\n]*/.exec(raw)?.[0] ?? '');
    nextLine += lineBreaks(raw);
    if (!header) {
      const names = record.map((name) => name.trim());
      const missing = requiredColumns.filter((c) => !names.includes(c));
      if (missing.length > 0) {
        throw new DataError(
          `${source}: CSV header has no ${missing.map((c) => `"${c}"`).join(', ')} ${missing.length > 1 ? 'columns' : 'column'} (columns: ${names.join(', ')})`,
        );
      }
      header = names;
      continue;
    }
    if (record.length !== header.length) {
      yield { line, error: 'wrong column count' };
      continue;
    }
    yield { line, row: Object.fromEntries(header.map((name, i) => [name, record[i]])) };
  }
}

const lineBreaks = (s: string): number => s.match(/\r\n|\r|\n/g)?.length ?? 0;

function asDataError(source: string, err: unknown, maxLineBytes: number): DataError {
  if (err instanceof DataError) return err;
  const { code, message, lines } = err as { code?: string; message?: string; lines?: number };
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return new DataError(
      `${source}: a CSV record passes ${maxLineBytes} bytes at line ${lines ?? '?'} (an unclosed quote?); the file is not read further`,
      undefined,
      { cause: err },
    );
  }
  if (code === 'ENOENT') return new DataError(`${source}: file not found`, undefined, { cause: err });
  if (code?.startsWith('Z_')) return new DataError(`${source}: corrupt gzip (${message})`, undefined, { cause: err });
  // Broken quoting: csv-parse cannot find the next record reliably, so the whole file is rejected.
  if (code?.startsWith('CSV_')) return new DataError(`${source}: malformed CSV (${message})`, undefined, { cause: err });
  return new DataError(`${source}: cannot read (${message ?? String(err)})`, undefined, { cause: err });
}

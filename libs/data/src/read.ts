import { z } from 'zod';
import { DataError } from './errors.ts';
import { fingerprintOfRowHashes, rowHash, textHash } from './hash.ts';
import { readRecords, sourceName } from './records.ts';
import type { DataInput, DataReport, Example, ReadOptions } from './types.ts';

const MAX_BAD_ROWS = 100;

type Settings = Required<Omit<ReadOptions, 'format'>>;

function settings(opts: ReadOptions): Settings {
  return {
    textField: opts.textField ?? 'text',
    labelField: opts.labelField ?? 'label',
    labels: opts.labels ?? ['negative', 'positive'],
    requireLabel: opts.requireLabel ?? true,
    maxErrorRatio: opts.maxErrorRatio ?? 0.01,
    maxTextBytes: opts.maxTextBytes ?? 100_000,
  };
}

type Row = { text: string; label: string | undefined; id: string | undefined };

/** Returns a validator giving the row's fields, or the bad-row reason (the first zod issue). */
function rowValidator(s: Settings): (row: unknown) => Row | string {
  const labelByKey = new Map(s.labels.map((name) => [name.trim().toLowerCase(), name]));
  // A label name wins over an index, so labels ['1'..'5'] read "1" as '1', not labels[1].
  const labelOf = (value: string | number): string | undefined => {
    const key = String(value).trim().toLowerCase();
    return labelByKey.get(key) ?? (/^\d+$/.test(key) ? s.labels[Number(key)] : undefined);
  };

  const fields = z.object(
    {
      text: z
        .string({ error: (issue) => (issue.input === undefined ? 'missing text' : 'text is not a string') })
        .refine((text) => text.trim() !== '', 'empty text')
        .refine((text) => Buffer.byteLength(text) <= s.maxTextBytes, 'text too long'),
      label: z.unknown().transform((value, ctx): string | undefined => {
        if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
          if (s.requireLabel) ctx.addIssue({ code: 'custom', message: 'missing label' });
          return undefined;
        }
        const label = typeof value === 'string' || typeof value === 'number' ? labelOf(value) : undefined;
        if (label === undefined) ctx.addIssue({ code: 'custom', message: 'unknown label' });
        return label;
      }),
      id: z
        .unknown()
        .transform((value) => ((typeof value === 'string' || typeof value === 'number') && value !== '' ? String(value) : undefined)),
    },
    { error: 'not an object' },
  );
  // Pick the configured fields into a fixed shape; non-objects fall through to the 'not an object' issue.
  const schema = z.preprocess(
    (row) => (isPlainObject(row) ? { text: row[s.textField], label: row[s.labelField], id: row['id'] } : row),
    fields,
  );
  return (row) => {
    const result = schema.safeParse(row);
    return result.success ? result.data : (result.error.issues[0]?.message ?? 'invalid row');
  };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Streams the good examples of a JSONL/CSV (optionally .gz) file and returns the report when done.
 * Bad rows are skipped and reported; throws DataError at the end if too many were bad.
 * Duplicates are counted but still yielded (loadDataset drops them).
 */
export function readExamples(input: DataInput, opts: ReadOptions = {}): AsyncGenerator<Example, DataReport, undefined> {
  return read(input, opts, false);
}

/** Reads everything, keeping the first example of each normalized text. */
export async function loadDataset(input: DataInput, opts: ReadOptions = {}): Promise<{ examples: Example[]; report: DataReport }> {
  const examples: Example[] = [];
  const reading = read(input, opts, true);
  for (let next = await reading.next(); ; next = await reading.next()) {
    if (next.done) return { examples, report: next.value };
    examples.push(next.value);
  }
}

async function* read(input: DataInput, opts: ReadOptions, dropDuplicates: boolean): AsyncGenerator<Example, DataReport, undefined> {
  const s = settings(opts);
  const validate = rowValidator(s);
  const report: DataReport = {
    source: sourceName(input),
    rows: 0,
    good: 0,
    bad: 0,
    badByReason: {},
    badRows: [],
    duplicates: 0,
    labelCounts: Object.fromEntries(s.labels.map((label) => [label, 0])),
    fingerprint: '',
  };
  const seenTexts = new Set<string>();
  const rowHashes: string[] = [];
  const requiredColumns = s.requireLabel ? [s.textField, s.labelField] : [s.textField];

  for await (const record of readRecords(input, opts.format, requiredColumns)) {
    report.rows++;
    const row = 'error' in record ? record.error : validate(record.row);
    if (typeof row === 'string') {
      const reason = row;
      report.bad++;
      report.badByReason[reason] = (report.badByReason[reason] ?? 0) + 1;
      if (report.badRows.length < MAX_BAD_ROWS) report.badRows.push({ line: record.line, reason });
      continue;
    }
    report.good++;
    const { text, label, id } = row;
    const hash = textHash(text);
    if (seenTexts.has(hash)) {
      report.duplicates++;
      if (dropDuplicates) continue;
    } else {
      seenTexts.add(hash);
    }
    rowHashes.push(rowHash(hash, label));
    if (label !== undefined) report.labelCounts[label] = (report.labelCounts[label] ?? 0) + 1;
    yield { text, label, id, line: record.line };
  }

  report.fingerprint = fingerprintOfRowHashes(rowHashes);
  if (report.rows === 0) throw new DataError(`${report.source}: no rows (empty file)`, report);
  const ratio = report.bad / report.rows;
  if (ratio > s.maxErrorRatio) throw new DataError(tooManyBadRows(report, ratio, s.maxErrorRatio), report);
  return report;
}

function tooManyBadRows(r: DataReport, ratio: number, limit: number): string {
  const percent = (x: number) => `${(x * 100).toFixed(2)}%`;
  const reasons = Object.entries(r.badByReason)
    .map(([reason, n]) => `${reason}: ${n}`)
    .join(', ');
  const first = r.badRows
    .slice(0, 5)
    .map((b) => `line ${b.line} (${b.reason})`)
    .join(', ');
  return `${r.source}: ${r.bad} of ${r.rows} rows are bad (${percent(ratio)}, limit ${percent(limit)}); ${reasons}; first: ${first}`;
}

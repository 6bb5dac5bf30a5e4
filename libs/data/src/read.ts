import { z } from 'zod';
import { DataError, UnknownLabelsError } from './errors.ts';
import { fingerprintOfRowHashes, rowHash, textHash } from './hash.ts';
import { DEFAULT_MAX_LINE_BYTES } from './lines.ts';
import { readRecords, sourceName } from './records.ts';
import type { DataFields, DataInput, DataReport, Example, ReadOptions } from './types.ts';

const MAX_BAD_ROWS = 100;
/** Distinct unknown labels kept in a report (counted while there is room). */
const MAX_UNKNOWN_LABELS = 20;
const MAX_FIELD_NAMES = 50;

/** The read options for `fields`, leaving out unset ones (or all, without fields), so the reader's defaults apply. */
export function fieldOptions(fields: DataFields | undefined): Pick<ReadOptions, 'textField' | 'labelField'> {
  return { ...(fields?.textField && { textField: fields.textField }), ...(fields?.labelField && { labelField: fields.labelField }) };
}

type Settings = Required<Omit<ReadOptions, 'format' | 'labels' | 'trackRows'>> & Pick<ReadOptions, 'labels'>;

function settings(opts: ReadOptions): Settings {
  return {
    textField: opts.textField ?? 'text',
    labelField: opts.labelField ?? 'label',
    labels: opts.labels,
    unknownLabels: opts.unknownLabels ?? 'skip',
    requireLabel: opts.requireLabel ?? true,
    maxErrorRatio: opts.maxErrorRatio ?? 0.01,
    maxTextBytes: opts.maxTextBytes ?? 100_000,
    maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
  };
}

type Row = { text: string; label: string | undefined; id: string | undefined };
/** Why a row is bad; `unknownLabel` is the label as written when that is the reason. */
type BadRow = { reason: string; unknownLabel?: string };

/** How a label value is read: as one of the known labels (a name, any case, or an index), or as written when none are given. */
function labelReader(labels: readonly string[] | undefined): (value: string | number) => string | undefined {
  if (!labels) return (value) => String(value).trim() || undefined;
  const labelByKey = new Map(labels.map((name) => [name.trim().toLowerCase(), name]));
  // A label name wins over an index, so labels ['1'..'5'] read "1" as '1', not labels[1].
  return (value) => {
    const key = String(value).trim().toLowerCase();
    return labelByKey.get(key) ?? (/^\d+$/.test(key) ? labels[Number(key)] : undefined);
  };
}

/**
 * Label names in a fixed order for a model's classes: numerically when every one is a number
 * ("2" before "10"), else by code unit, so the same data always gives the same class order.
 */
export function sortedLabels(labels: Iterable<string>): string[] {
  const distinct = [...new Set(labels)];
  const numeric = distinct.every((l) => /^-?\d+(\.\d+)?$/.test(l));
  return numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
}

/** Returns a validator giving the row's fields, or why it is bad (the first zod issue). */
function rowValidator(s: Settings): (row: unknown) => Row | BadRow {
  const labelOf = labelReader(s.labels);

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
        const readable = typeof value === 'string' || typeof value === 'number';
        const label = readable ? labelOf(value) : undefined;
        if (label === undefined)
          ctx.addIssue({ code: 'custom', message: 'unknown label', params: readable ? { written: String(value).trim() } : {} });
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
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const written = issue?.code === 'custom' ? issue.params?.written : undefined;
    return { reason: issue?.message ?? 'invalid row', ...(typeof written === 'string' && { unknownLabel: written }) };
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
  return read(input, opts, false, opts.trackRows ?? true);
}

/** Reads everything, keeping the first example of each normalized text. */
export async function loadDataset(input: DataInput, opts: ReadOptions = {}): Promise<{ examples: Example[]; report: DataReport }> {
  const examples: Example[] = [];
  const reading = read(input, opts, true, true);
  for (let next = await reading.next(); ; next = await reading.next()) {
    if (next.done) return { examples, report: next.value };
    examples.push(next.value);
  }
}

async function* read(
  input: DataInput,
  opts: ReadOptions,
  dropDuplicates: boolean,
  trackRows: boolean,
): AsyncGenerator<Example, DataReport, undefined> {
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
    labelCounts: Object.fromEntries((s.labels ?? []).map((label) => [label, 0])),
    unknownLabels: {},
    fingerprint: '',
  };
  const seenTexts = new Set<string>();
  const rowHashes: string[] = [];
  const requiredFields = s.requireLabel ? [s.textField, s.labelField] : [s.textField];
  const fields = new FieldsSeen(requiredFields);

  for await (const record of readRecords(input, opts.format, requiredFields, s.maxLineBytes)) {
    report.rows++;
    if (!('error' in record)) fields.note(record.row);
    const row = 'error' in record ? { reason: record.error } : validate(record.row);
    if ('reason' in row) {
      const { reason, unknownLabel } = row;
      report.bad++;
      report.badByReason[reason] = (report.badByReason[reason] ?? 0) + 1;
      if (report.badRows.length < MAX_BAD_ROWS) report.badRows.push({ line: record.line, reason });
      if (
        unknownLabel !== undefined &&
        (unknownLabel in report.unknownLabels || Object.keys(report.unknownLabels).length < MAX_UNKNOWN_LABELS)
      )
        report.unknownLabels[unknownLabel] = (report.unknownLabels[unknownLabel] ?? 0) + 1;
      continue;
    }
    report.good++;
    const { text, label, id } = row;
    if (trackRows) {
      const hash = textHash(text);
      if (seenTexts.has(hash)) {
        report.duplicates++;
        if (dropDuplicates) continue;
      } else {
        seenTexts.add(hash);
      }
      rowHashes.push(rowHash(hash, label));
    }
    if (label !== undefined) report.labelCounts[label] = (report.labelCounts[label] ?? 0) + 1;
    yield { text, label, id, line: record.line };
  }

  if (trackRows) report.fingerprint = fingerprintOfRowHashes(rowHashes);
  if (report.rows === 0) throw new DataError(`${report.source}: no rows (empty file)`, report);
  const absent = fields.absent();
  if (absent) throw new DataError(`${report.source}: no row has a "${absent}" field (fields: ${fields.names().join(', ')})`, report);
  if (s.unknownLabels === 'fail' && Object.keys(report.unknownLabels).length > 0) throw new UnknownLabelsError(report, s.labels ?? []);
  const ratio = report.bad / report.rows;
  if (ratio > s.maxErrorRatio) throw new DataError(tooManyBadRows(report, ratio, s.maxErrorRatio), report);
  return report;
}

/**
 * The fields of a JSON file's rows, so that a field no row has is named with the ones there are
 * (the JSON counterpart of a CSV header without the column) instead of failing every row.
 */
class FieldsSeen {
  private readonly seen = new Set<string>();
  private readonly present = new Map<string, number>();
  private objects = 0;

  constructor(private readonly required: readonly string[]) {}

  note(row: unknown): void {
    if (!isPlainObject(row)) return;
    this.objects++;
    for (const name of Object.keys(row)) if (this.seen.size < MAX_FIELD_NAMES) this.seen.add(name);
    for (const name of this.required) if (name in row) this.present.set(name, (this.present.get(name) ?? 0) + 1);
  }

  /** The first required field no object row has, if any. */
  absent(): string | undefined {
    return this.objects > 0 ? this.required.find((name) => !this.present.has(name)) : undefined;
  }

  names(): string[] {
    return [...this.seen];
  }
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
  const unknown = Object.entries(r.unknownLabels)
    .map(([label, n]) => `"${label}" (${n})`)
    .join(', ');
  return `${r.source}: ${r.bad} of ${r.rows} rows are bad (${percent(ratio)}, limit ${percent(limit)}); ${reasons}${unknown ? ` (unknown labels: ${unknown})` : ''}; first: ${first}`;
}

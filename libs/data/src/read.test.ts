import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataError,
  fingerprint,
  loadDataset,
  readExamples,
  sortedLabels,
  UnknownLabelsError,
  type DataInput,
  type DataReport,
  type Example,
  type ReadOptions,
} from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'mlops-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a fixture (gzipped when the name ends in .gz) and returns its path. */
function fixture(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, name.endsWith('.gz') ? gzipSync(content) : content);
  return path;
}

const jsonl = (...rows: unknown[]): string => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

async function readAll(input: DataInput, opts?: ReadOptions): Promise<{ examples: Example[]; report: DataReport }> {
  const examples: Example[] = [];
  const reading = readExamples(input, opts);
  for (let next = await reading.next(); ; next = await reading.next()) {
    if (next.done) return { examples, report: next.value };
    examples.push(next.value);
  }
}

async function dataError(promise: Promise<unknown>): Promise<DataError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  expect((err as DataError).code).toBe('DATA_ERROR');
  return err as DataError;
}

const ROWS = jsonl(
  { id: 'a', text: 'Great film', label: 'positive', rating: 9 },
  { id: 7, text: 'Dull.', label: 'negative' },
  { text: 'No id here', label: 'POSITIVE ' },
);
const EXPECTED: Example[] = [
  { id: 'a', text: 'Great film', label: 'positive', line: 1 },
  { id: '7', text: 'Dull.', label: 'negative', line: 2 },
  { id: undefined, text: 'No id here', label: 'positive', line: 3 },
];

const SENTIMENT = { labels: ['negative', 'positive'] } as const;

describe('readExamples formats', () => {
  it('reads JSONL with ids, case-insensitive labels and a report', async () => {
    const { examples, report } = await readAll(fixture('rows.jsonl', ROWS), SENTIMENT);
    expect(examples).toEqual(EXPECTED);
    expect(report).toMatchObject({ rows: 3, good: 3, bad: 0, duplicates: 0, labelCounts: { negative: 1, positive: 2 } });
    expect(report.fingerprint).toBe(fingerprint(EXPECTED));
  });

  it('reads JSONL.gz, a file:// URI, a stream and a format override alike', async () => {
    const inputs: [DataInput, ReadOptions?][] = [
      [fixture('rows.jsonl.gz', ROWS)],
      [pathToFileURL(fixture('uri.jsonl', ROWS)).href],
      [{ stream: Readable.from([Buffer.from(gzipSync(ROWS))]), name: 'gs://bucket/rows.jsonl.gz' }],
      [fixture('rows.txt', ROWS), { format: 'jsonl' }],
    ];
    for (const [input, opts] of inputs) expect((await readAll(input, { ...SENTIMENT, ...opts })).examples).toEqual(EXPECTED);
  });

  it('maps numeric labels and "0"/"1" to label names; names win over indices', async () => {
    const path = fixture('numeric.jsonl', jsonl({ text: 'a', label: 0 }, { text: 'b', label: 1 }, { text: 'c', label: ' 1' }));
    expect((await readAll(path, SENTIMENT)).examples.map((e) => e.label)).toEqual(['negative', 'positive', 'positive']);
    const stars = fixture('stars.jsonl', jsonl({ text: 'a', label: 1 }, { text: 'b', label: '0' }));
    expect((await readAll(stars, { labels: ['0', '1', '2'] })).examples.map((e) => e.label)).toEqual(['1', '0']);
  });

  it('reads CSV with quoted commas, quotes, newlines, CRLF and custom columns', async () => {
    const csv = [
      'review_id,review,sentiment',
      '1,"Good, really good",1',
      '2,"He said ""meh""",0',
      '',
      '3,"line one',
      'line two",positive',
      '4,plain,negative',
    ].join('\r\n');
    const opts = { ...SENTIMENT, textField: 'review', labelField: 'sentiment' };
    const expected = [
      { text: 'Good, really good', label: 'positive', line: 2 },
      { text: 'He said "meh"', label: 'negative', line: 3 },
      { text: 'line one\r\nline two', label: 'positive', line: 5 },
      { text: 'plain', label: 'negative', line: 7 },
    ];
    expect((await readAll(fixture('custom.csv', csv), opts)).examples).toEqual(expected.map((e) => ({ ...e, id: undefined })));
    expect((await readAll(fixture('custom.csv.gz', csv), opts)).examples).toHaveLength(4);
  });

  it('takes id from an id column', async () => {
    const { examples } = await readAll(fixture('ids.csv', 'id,text,label\nr1,hello,positive\n'));
    expect(examples).toEqual([{ id: 'r1', text: 'hello', label: 'positive', line: 2 }]);
  });

  it('reads unlabelled data when requireLabel is false', async () => {
    const path = fixture('unsup.jsonl', jsonl({ id: 'u1', text: 'no label' }, { text: 'labelled', label: 'positive' }));
    const { examples, report } = await readAll(path, { requireLabel: false });
    expect(examples.map((e) => e.label)).toEqual([undefined, 'positive']);
    expect(report.bad).toBe(0);
    const csv = await readAll(fixture('unsup.csv', 'text\nhello\n'), { requireLabel: false });
    expect(csv.examples).toEqual([{ id: undefined, text: 'hello', label: undefined, line: 2 }]);
  });

  it('stops cleanly when the caller stops early', async () => {
    const many = jsonl(...Array.from({ length: 1000 }, (_, i) => ({ text: `row ${i}`, label: i % 2 })));
    const seen: Example[] = [];
    for await (const e of readExamples(fixture('many.jsonl.gz', many))) {
      seen.push(e);
      if (seen.length === 3) break;
    }
    expect(seen.map((e) => e.line)).toEqual([1, 2, 3]);
  });
});

describe('bad rows', () => {
  it('skips and reports each reason with its line', async () => {
    const path = fixture(
      'bad.jsonl',
      jsonl(
        { text: 'fine', label: 'positive' },
        '{"text": "broken',
        '[1, 2]',
        '"just a string"',
        { label: 'positive' },
        { text: 42, label: 'positive' },
        { text: '', label: 'positive' },
        '',
        { text: ' \n\t', label: 'negative' },
        { text: 'x'.repeat(11), label: 'negative' },
        { text: 'no label' },
        { text: 'odd label', label: 'neutral' },
        { text: 'index 2', label: 2 },
      ),
    );
    const { examples, report } = await readAll(path, { ...SENTIMENT, maxErrorRatio: 1, maxTextBytes: 10 });
    expect(examples.map((e) => e.line)).toEqual([1]);
    expect(report.unknownLabels).toEqual({ neutral: 1, '2': 1 });
    expect(report.badRows).toEqual([
      { line: 2, reason: 'invalid JSON' },
      { line: 3, reason: 'not an object' },
      { line: 4, reason: 'not an object' },
      { line: 5, reason: 'missing text' },
      { line: 6, reason: 'text is not a string' },
      { line: 7, reason: 'empty text' },
      { line: 9, reason: 'empty text' },
      { line: 10, reason: 'text too long' },
      { line: 11, reason: 'missing label' },
      { line: 12, reason: 'unknown label' },
      { line: 13, reason: 'unknown label' },
    ]);
    expect(report).toMatchObject({ rows: 12, good: 1, bad: 11 });
    expect(report.badByReason).toEqual({
      'invalid JSON': 1,
      'not an object': 2,
      'missing text': 1,
      'text is not a string': 1,
      'empty text': 2,
      'text too long': 1,
      'missing label': 1,
      'unknown label': 2,
    });
  });

  it('reports CSV rows with the wrong column count at the line they start', async () => {
    const csv = 'text,label\n"two\nlines",positive\nonly one field\nx,positive,extra\n,negative\nok,negative\n';
    const { examples, report } = await readAll(fixture('bad.csv', csv), { maxErrorRatio: 1 });
    expect(examples.map((e) => e.line)).toEqual([2, 7]);
    expect(report.badRows).toEqual([
      { line: 4, reason: 'wrong column count' },
      { line: 5, reason: 'wrong column count' },
      { line: 6, reason: 'empty text' },
    ]);
  });

  it('keeps only the first 100 bad rows but counts all', async () => {
    const rows = Array.from({ length: 150 }, () => ({ text: '', label: 'positive' }));
    const { report } = await readAll(fixture('many-bad.jsonl', jsonl(...rows)), { maxErrorRatio: 1 });
    expect(report.bad).toBe(150);
    expect(report.badRows).toHaveLength(100);
  });

  it('passes at the error ratio limit and fails above it', async () => {
    const good = Array.from({ length: 98 }, (_, i) => ({ text: `review ${i}`, label: i % 2 }));
    const onePercent = fixture('one-bad.jsonl', jsonl(...good, { text: 'one more', label: 0 }, { text: '' }));
    expect((await readAll(onePercent, SENTIMENT)).report).toMatchObject({ rows: 100, bad: 1 });

    const twoPercent = fixture('two-bad.jsonl', jsonl(...good, { text: '' }, { text: 'x', label: 'meh' }));
    const err = await dataError(readAll(twoPercent, SENTIMENT));
    expect(err.message).toContain('2 of 100 rows are bad (2.00%, limit 1.00%)');
    expect(err.message).toContain('unknown label: 1 (unknown labels: "meh" (1))');
    expect(err.message).toContain('line 99 (empty text)');
    expect(err.message).toContain('line 100 (unknown label)');
    expect(err.report?.badByReason).toEqual({ 'empty text': 1, 'unknown label': 1 });
    expect((await readAll(twoPercent, { ...SENTIMENT, maxErrorRatio: 0.02 })).examples).toHaveLength(98);
  });
});

describe('labels', () => {
  it('takes any label as written when no classes are given, and sortedLabels orders them', async () => {
    const path = fixture(
      'four.jsonl',
      jsonl({ text: 'a', label: 'good' }, { text: 'b', label: ' excellent ' }, { text: 'c', label: 'Poor' }, { text: 'd', label: 3 }),
    );
    const { examples, report } = await readAll(path);
    expect(examples.map((e) => e.label)).toEqual(['good', 'excellent', 'Poor', '3']);
    expect(report.labelCounts).toEqual({ good: 1, excellent: 1, Poor: 1, '3': 1 });
    expect(sortedLabels(examples.map((e) => e.label!))).toEqual(['3', 'Poor', 'excellent', 'good']);
    expect(sortedLabels(['10', '2', '1', '2'])).toEqual(['1', '2', '10']);
  });

  it("names every label outside the classes with unknownLabels: 'fail', however few", async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ text: `row ${i}`, label: ['poor', 'good'][i % 2] }));
    const path = fixture(
      'new-class.jsonl',
      jsonl(...rows, { text: 'x', label: 'meh' }, { text: 'y', label: 'meh' }, { text: 'z', label: 'wow' }),
    );
    const err = await readAll(path, { labels: ['poor', 'good'], unknownLabels: 'fail' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownLabelsError);
    expect((err as UnknownLabelsError).unknown).toEqual(['meh', 'wow']);
    expect((err as Error).message).toBe(`${path}: labels "meh" (2 rows), "wow" (1 row) not among the classes poor, good`);
    // The default leaves them as bad rows (here under the 1% limit).
    expect((await readAll(path, { labels: ['poor', 'good'] })).report).toMatchObject({ bad: 3, unknownLabels: { meh: 2, wow: 1 } });
  });
});

describe('broken files', () => {
  it('rejects a missing file', async () => {
    const path = join(dir, 'nope.jsonl');
    expect((await dataError(readAll(path))).message).toBe(`${path}: file not found`);
  });

  it('rejects corrupt and truncated gzip', async () => {
    const notGzip = join(dir, 'corrupt.jsonl.gz');
    writeFileSync(notGzip, 'not gzip at all');
    expect((await dataError(readAll(notGzip))).message).toBe(`${notGzip}: corrupt gzip (incorrect header check)`);

    const whole = gzipSync(jsonl(...Array.from({ length: 500 }, (_, i) => ({ text: `review number ${i}`, label: 1 }))));
    const truncated = join(dir, 'truncated.jsonl.gz');
    writeFileSync(truncated, whole.subarray(0, whole.length / 2));
    expect((await dataError(readAll(truncated))).message).toContain('corrupt gzip');
  });

  it('rejects a CSV header without the text or label column', async () => {
    const path = fixture('columns.csv', 'body,label\nhello,positive\n');
    expect((await dataError(readAll(path))).message).toBe(`${path}: CSV header has no "text" column (columns: body, label)`);
    expect((await dataError(readAll(path, { labelField: 'stars', textField: 'body' }))).message).toContain('no "stars" column');
  });

  it('rejects JSONL whose rows have no text or label field, naming the fields they have', async () => {
    const path = fixture('fields.jsonl', jsonl({ id: 1, review: 'hello', stars_bin: 'good' }, { id: 2, review: 'bye' }));
    expect((await dataError(readAll(path))).message).toBe(`${path}: no row has a "text" field (fields: id, review, stars_bin)`);
    expect((await dataError(readAll(path, { textField: 'review', labelField: 'stars' }))).message).toBe(
      `${path}: no row has a "stars" field (fields: id, review, stars_bin)`,
    );
    // A field some rows lack is a bad row in those rows, not a wrong field name.
    const some = await readAll(path, { textField: 'review', labelField: 'stars_bin', maxErrorRatio: 1 });
    expect(some.report.badByReason).toEqual({ 'missing label': 1 });
  });

  it('rejects broken CSV quoting', async () => {
    const path = fixture('quotes.csv', 'text,label\n"fine",positive\n"bro"ken,negative\n');
    expect((await dataError(readAll(path))).message).toMatch(/malformed CSV .*line 3/);
  });

  it('rejects empty files', async () => {
    for (const [name, content] of [
      ['empty.jsonl', ''],
      ['blank.jsonl', '\n\n'],
      ['empty.csv.gz', ''],
      ['header-only.csv', 'text,label\n'],
    ] as const) {
      const path = fixture(name, content);
      expect((await dataError(readAll(path))).message).toBe(`${path}: no rows (empty file)`);
    }
  });

  it('rejects unknown extensions and remote URIs', async () => {
    expect((await dataError(readAll(fixture('rows.parquet', '')))).message).toContain('cannot tell the format');
    expect((await dataError(readAll('gs://bucket/rows.jsonl'))).message).toContain('open other stores as { stream, name }');
  });
});

describe('loadDataset', () => {
  it('drops repeated texts (after NFC and trim), keeping the first', async () => {
    const path = fixture(
      'dups.jsonl',
      jsonl(
        { text: 'café', label: 'positive' },
        { text: 'other', label: 'negative' },
        { text: '  cafe\u0301 ', label: 'negative' },
        { text: 'other', label: 'negative' },
      ),
    );
    const { examples, report } = await loadDataset(path, SENTIMENT);
    expect(examples.map((e) => e.line)).toEqual([1, 2]);
    expect(report).toMatchObject({ rows: 4, good: 4, duplicates: 2, labelCounts: { positive: 1, negative: 1 } });
    expect(report.fingerprint).toBe(fingerprint(examples));

    const streamed = await readAll(path);
    expect(streamed.examples).toHaveLength(4);
    expect(streamed.report.duplicates).toBe(2);

    // trackRows: false keeps no per-row hash: no duplicates counted, no fingerprint; loadDataset tracks anyway.
    const untracked = await readAll(path, { trackRows: false });
    expect(untracked.examples).toHaveLength(4);
    expect(untracked.report).toMatchObject({ good: 4, duplicates: 0, fingerprint: '' });
    expect((await loadDataset(path, { ...SENTIMENT, trackRows: false })).examples).toHaveLength(2);
  });
});

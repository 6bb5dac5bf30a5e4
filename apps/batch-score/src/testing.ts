/** Test fixtures shared by this app's tests (not exported from the index). */
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

/** 7 non-blank lines: 4 good rows (lines 1, 2, 6, 7), 3 bad (4: empty text, 5: invalid JSON, 8: no text); line 3 is blank. */
export const JSONL = [
  '{"id":"a","text":"a good film"}',
  '{"id":"b","text":"awful plot","label":"neutral"}',
  '',
  '{"id":"c","text":"  "}',
  'not json',
  '{"text":"great acting"}',
  '{"id":7,"text":"a bad film"}',
  '{"id":"d"}',
].join('\n');
export const JSONL_GOOD_LINES = [1, 2, 6, 7];
export const JSONL_BAD = [
  { line: 4, reason: 'empty text' },
  { line: 5, reason: 'invalid JSON' },
  { line: 8, reason: 'missing text' },
];

/** A header, 3 good records (one spans lines 4-5) and 2 bad ones. */
export const CSV = ['id,text', '1,a good film', '2,"great acting, awful plot"', '3,"two', 'lines"', '4,a,b', '5,'].join('\n');
export const CSV_GOOD_LINES = [2, 3, 4];
export const CSV_BAD = [
  { line: 6, reason: 'wrong column count' },
  { line: 7, reason: 'empty text' },
];

export async function writeInputs(dir: string): Promise<{ jsonl: string; gz: string; csv: string }> {
  const paths = { jsonl: join(dir, 'reviews.jsonl'), gz: join(dir, 'reviews.jsonl.gz'), csv: join(dir, 'reviews.csv') };
  await writeFile(paths.jsonl, JSONL);
  await writeFile(paths.gz, gzipSync(JSONL));
  await writeFile(paths.csv, CSV);
  return paths;
}

export const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Polls until `check` returns a value (or fails after `ms`). */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

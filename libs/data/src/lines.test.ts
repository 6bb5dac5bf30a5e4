import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DataError, readExamples, splitLines, type DataReport, type Example, type Line } from './index.ts';

async function lines(chunks: (string | Buffer)[], max?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const l of splitLines(Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))), max)) out.push(l);
  return out;
}

/** Every way of cutting `text` into two chunks gives the same lines. */
async function sameAtEveryCut(text: string, max?: number): Promise<Line[]> {
  const bytes = Buffer.from(text);
  const whole = await lines([bytes], max);
  for (let cut = 0; cut <= bytes.length; cut++) expect(await lines([bytes.subarray(0, cut), bytes.subarray(cut)], max)).toEqual(whole);
  return whole;
}

describe('splitLines', () => {
  it('breaks at \\n, \\r\\n and \\r as readline does, wherever the chunks end', async () => {
    expect(await sameAtEveryCut('a\nb\r\nc\rd\n\ne')).toEqual([
      { line: 1, text: 'a' },
      { line: 2, text: 'b' },
      { line: 3, text: 'c' },
      { line: 4, text: 'd' },
      { line: 5, text: '' },
      { line: 6, text: 'e' },
    ]);
    expect(await lines(['a\n'])).toEqual([{ line: 1, text: 'a' }]);
    expect(await lines([])).toEqual([]);
    expect(await lines(['\r', '\n', 'x'])).toEqual([
      { line: 1, text: '' },
      { line: 2, text: 'x' },
    ]);
  });

  it('decodes UTF-8 split across chunks and keeps a BOM', async () => {
    expect(await sameAtEveryCut('\uFEFFé€😀\nü')).toEqual([
      { line: 1, text: '\uFEFFé€😀' },
      { line: 2, text: 'ü' },
    ]);
  });

  it('hands out a line past the cap as too long, once, and goes on after its break', async () => {
    // 4 bytes is the cap: "abcd" fits, "abcde" does not.
    expect(await sameAtEveryCut('abcd\nabcde\nxy\r\nabcdefghij\rok\nlast-too-long', 4)).toEqual([
      { line: 1, text: 'abcd' },
      { line: 2, tooLong: true },
      { line: 3, text: 'xy' },
      { line: 4, tooLong: true },
      { line: 5, text: 'ok' },
      { line: 6, tooLong: true },
    ]);
    expect(await lines(['ab', 'cd', 'e', 'fg', '\nz'], 4)).toEqual([
      { line: 1, tooLong: true },
      { line: 2, text: 'z' },
    ]);
  });
});

const MiB = 1024 * 1024;

/**
 * `size` bytes of a line with no break, after `head` and before `tail`, generated as it is read
 * (never on disk or whole in memory); samples the process's RSS as it goes.
 */
function hugeLine(head: string, size: number, tail: string): { stream: Readable; peakRss: () => number; sent: () => number } {
  const block = Buffer.alloc(Math.min(MiB, size), 'a');
  let peak = process.memoryUsage().rss;
  let sent = 0;
  const stream = Readable.from(
    (function* () {
      yield Buffer.from(head);
      while (sent < size) {
        peak = Math.max(peak, process.memoryUsage().rss);
        yield block;
        sent += block.length;
      }
      yield Buffer.from(tail);
    })(),
  );
  return { stream, peakRss: () => Math.max(peak, process.memoryUsage().rss), sent: () => sent };
}

describe('a 1 GB line', () => {
  it('is one bad row of a JSONL file, read in flat memory, and the rows after it are read', async () => {
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const { stream, peakRss, sent } = hugeLine('{"text":"first"}\n{"text":"', 1024 * MiB, '"}\n{"text":"after"}\n');
    const examples: Example[] = [];
    const reading = readExamples({ stream, name: 'huge.jsonl' }, { requireLabel: false, maxErrorRatio: 1 });
    let report: DataReport;
    for (let next = await reading.next(); ; next = await reading.next()) {
      if (next.done) {
        report = next.value;
        break;
      }
      examples.push(next.value);
    }
    const growth = peakRss() - before;
    console.log(
      `1 GB JSONL line: ${((performance.now() - started) / 1000).toFixed(1)} s, peak RSS growth ${(growth / MiB).toFixed(1)} MiB`,
    );
    expect(examples.map((e) => [e.line, e.text])).toEqual([
      [1, 'first'],
      [3, 'after'],
    ]);
    expect(report).toMatchObject({
      rows: 3,
      good: 2,
      bad: 1,
      badByReason: { 'line too long': 1 },
      badRows: [{ line: 2, reason: 'line too long' }],
    });
    expect(sent()).toBe(1024 * MiB);
    expect(growth).toBeLessThan(200 * MiB);
  });

  it('fails a CSV file (an unclosed quote) at the cap, without reading the rest into memory', async () => {
    const before = process.memoryUsage().rss;
    const { stream, peakRss } = hugeLine('id,text\n1,fine\n2,"never closed ', 1024 * MiB, '"\n');
    const reading = readExamples({ stream, name: 'huge.csv' }, { requireLabel: false, maxErrorRatio: 1 });
    const error = await (async () => {
      for (let next = await reading.next(); !next.done; next = await reading.next());
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).message).toMatch(/huge\.csv: a CSV record passes 1048576 bytes at line 3 \(an unclosed quote\?\)/);
    expect(peakRss() - before).toBeLessThan(200 * MiB);
    expect(stream.destroyed).toBe(true);
  });

  it('honours a smaller cap', async () => {
    const { stream } = hugeLine('{"text":"ok"}\n', 2000, '\n');
    const reading = readExamples({ stream, name: 'x.jsonl' }, { requireLabel: false, maxErrorRatio: 1, maxLineBytes: 1000 });
    const seen: number[] = [];
    let next = await reading.next();
    for (; !next.done; next = await reading.next()) seen.push(next.value.line);
    expect(seen).toEqual([1]);
    expect(next.value.badRows).toEqual([{ line: 2, reason: 'line too long' }]);
  });
});

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POSITIVE = ['wonderful', 'great', 'brilliant', 'moving', 'superb', 'delightful', 'excellent'];
const NEGATIVE = ['awful', 'boring', 'dreadful', 'terrible', 'dull', 'painful', 'poor'];
const FILLER = ['the', 'film', 'plot', 'actor', 'scene', 'story', 'was', 'quite', 'and', 'a', 'movie', 'really', 'director'];

/** Deterministic generated reviews: one or two sentiment words among filler decide the label. */
export function generatedReviews(n: number, seed = 1): { text: string; label: string }[] {
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const label = i % 2 ? 'positive' : 'negative';
    const words = Array.from({ length: 5 + Math.floor(rand() * 15) }, () => pick(FILLER));
    words.splice(Math.floor(rand() * words.length), 0, pick(label === 'positive' ? POSITIVE : NEGATIVE));
    return { text: `${words.join(' ')} ${i}.`, label };
  });
}

export async function writeJsonl(rows: object[], name = 'data.jsonl', extraLines: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trainer-data-'));
  const path = join(dir, name);
  await writeFile(path, [...rows.map((r) => JSON.stringify(r)), ...extraLines].join('\n') + '\n');
  return path;
}

/** A stand-in interpreter: a shell script that behaves like a broken python. */
export async function fakePython(script: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-python-'));
  const path = join(dir, 'python3');
  await writeFile(path, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return path;
}

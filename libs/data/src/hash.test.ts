import { describe, expect, it } from 'vitest';
import { fingerprint, textHash } from './index.ts';

describe('textHash', () => {
  it('is sha256 hex of the NFC-normalized, trimmed text', () => {
    expect(textHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(textHash(' cafe\u0301\n')).toBe(textHash('café'));
    expect(textHash('Café')).not.toBe(textHash('café'));
  });
});

describe('fingerprint', () => {
  const rows = [
    { text: 'good', label: 'positive' },
    { text: 'bad', label: 'negative' },
    { text: 'meh', label: 'negative' },
  ];

  it('ignores row order and text normalization', () => {
    expect(fingerprint([...rows].reverse())).toBe(fingerprint(rows));
    expect(fingerprint([{ text: ' good ', label: 'positive' }, ...rows.slice(1)])).toBe(fingerprint(rows));
  });

  it('changes with a label, a text, a duplicate or a missing label', () => {
    const base = fingerprint(rows);
    expect(fingerprint([{ text: 'good', label: 'negative' }, ...rows.slice(1)])).not.toBe(base);
    expect(fingerprint([{ text: 'great', label: 'positive' }, ...rows.slice(1)])).not.toBe(base);
    expect(fingerprint([...rows, rows[0]!])).not.toBe(base);
    expect(fingerprint([{ text: 'good' }, ...rows.slice(1)])).not.toBe(base);
  });
});

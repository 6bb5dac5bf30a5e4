import { createHash } from 'node:crypto';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** sha256 hex of the NFC-normalized, trimmed text: the key for dedup and for joining feedback to predictions. */
export function textHash(text: string): string {
  return sha256(text.normalize('NFC').trim());
}

export function rowHash(textHashHex: string, label: string | undefined): string {
  // JSON keeps an absent label distinct from any label name.
  return sha256(JSON.stringify([textHashHex, label ?? null]));
}

/** Order-independent: row hashes are sorted, so a reshuffle of the same rows gives the same fingerprint. */
export function fingerprint(examples: Iterable<{ text: string; label?: string }>): string {
  const hashes: string[] = [];
  for (const e of examples) hashes.push(rowHash(textHash(e.text), e.label));
  return fingerprintOfRowHashes(hashes);
}

export function fingerprintOfRowHashes(rowHashes: string[]): string {
  return sha256(rowHashes.sort().join('\n'));
}

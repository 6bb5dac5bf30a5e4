/** The longest line read from a data or log file (1 MiB): rows are texts of at most a few hundred KB, so a longer line is a bad row. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** One line of a file (without its line break), or one that went past the cap (its bytes were dropped unread). */
export type Line = { line: number; text: string } | { line: number; tooLong: true };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines as readline does (breaks are \n, \r\n or \r; a BOM is kept),
 * numbering them from 1, but never holds more than `maxLineBytes` of a line: a longer one is
 * handed out as `tooLong` as soon as it passes the cap, and its bytes up to the next break are
 * discarded as they arrive. Memory stays within a chunk plus the cap whatever the file.
 *
 * (split2's maxLength with skipOverflow drops such a line silently, and readline has no cap.)
 */
export async function* splitLines(
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<Line, void, undefined> {
  let pieces: Buffer[] = [];
  let size = 0;
  let line = 1;
  /** The current line went past the cap (and was reported): drop bytes until its break. */
  let skipping = false;
  /** The last chunk ended with \r: a \n starting the next one is part of that break. */
  let afterCR = false;

  const text = (): string => {
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size);
    pieces = [];
    size = 0;
    return bytes.toString('utf8');
  };

  for await (const raw of source) {
    const chunk =
      typeof raw === 'string' ? Buffer.from(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let pos = 0;
    if (afterCR && chunk.length > 0) {
      afterCR = false;
      if (chunk[0] === LF) pos = 1;
    }
    // The next \n and \r at or after pos (-1: none left in this chunk), found again only once passed.
    let lf = chunk.indexOf(LF, pos);
    let cr = chunk.indexOf(CR, pos);
    while (pos < chunk.length) {
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      const stop = end === -1 ? chunk.length : end;
      if (!skipping) {
        if (size + (stop - pos) > maxLineBytes) {
          pieces = [];
          size = 0;
          skipping = true;
          yield { line, tooLong: true };
        } else if (stop > pos) {
          pieces.push(chunk.subarray(pos, stop));
          size += stop - pos;
        }
      }
      if (end === -1) break;
      if (skipping) skipping = false;
      else yield { line, text: text() };
      line++;
      pos = end + 1;
      if (chunk[end] === CR) {
        if (pos === chunk.length) afterCR = true;
        else if (chunk[pos] === LF) pos++;
      }
      if (lf !== -1 && lf < pos) lf = chunk.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos);
    }
  }
  if (size > 0) yield { line, text: text() };
}

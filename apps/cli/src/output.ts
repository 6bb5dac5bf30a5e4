import { z } from 'zod';

/** Human output goes to stderr; with --json the last stdout line is one JSON object, for scripts. */
export interface Output {
  json: boolean;
  info(message: string): void;
  result(human: string, data: object): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    info: (message) => process.stderr.write(`${message}\n`),
    result: (human, data) => {
      if (json) process.stdout.write(`${JSON.stringify(data)}\n`);
      else process.stdout.write(`${human}\n`);
    },
  };
}

export function fail(error: unknown, json: boolean): never {
  const message =
    error instanceof z.ZodError ? `invalid options: ${z.prettifyError(error)}` : error instanceof Error ? error.message : String(error);
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'ERROR';
  process.stderr.write(`error: ${message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, code, error: message })}\n`);
  process.exit(1);
}

/** A share as a percentage, e.g. 0.8781 → "87.81%"; '-' when there is none. */
export function pct(x: number | undefined, decimals = 2): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(decimals)}%`;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => String(cell).padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * A small Dockerfile reader for static checks (no Docker engine needed): joins continuation lines,
 * drops comments and parser directives, splits flags from arguments and reads JSON (exec) forms.
 */

export interface Instruction {
  /** Upper-cased: FROM, RUN, COPY, … */
  keyword: string;
  /** `--from=build` → { from: 'build' }; a bare `--link` → { link: 'true' }. Only COPY/ADD/RUN/FROM carry flags. */
  flags: Record<string, string>;
  /** The text after the keyword and its flags. */
  raw: string;
  /** Exec form (`["node", "index.mjs"]`) when the arguments are a JSON array of strings. */
  json?: string[];
  /** Whitespace-split arguments (shell form), or the JSON array. */
  args: string[];
  /** 1-based line where the instruction starts. */
  line: number;
  /** Index of the build stage (FROM) the instruction belongs to; -1 before the first FROM. */
  stage: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  instructions: Instruction[];
  stages: Stage[];
}

const FLAGGED = new Set(['FROM', 'COPY', 'ADD', 'RUN']);

function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Logical lines: `\` at the end of a line continues it; comment lines inside a continuation are skipped. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const trimmed = rawLine.trim();
    if (trimmed.startsWith('#')) return;
    if (current === undefined && trimmed === '') return;
    const continues = /\\\s*$/.test(rawLine);
    const piece = continues ? rawLine.replace(/\\\s*$/, '') : rawLine;
    if (current === undefined) current = { text: piece.trim(), line: i + 1 };
    else if (trimmed !== '') current.text = `${current.text} ${piece.trim()}`;
    if (!continues) {
      out.push(current);
      current = undefined;
    }
  });
  if (current !== undefined) out.push(current);
  return out;
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  for (const { text: lineText, line } of logicalLines(text)) {
    const match = /^(\S+)\s*(.*)$/s.exec(lineText);
    if (!match) continue;
    const keyword = (match[1] ?? '').toUpperCase();
    let rest = match[2] ?? '';
    const flags: Record<string, string> = {};
    if (FLAGGED.has(keyword)) {
      for (let flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); flag; flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
        flags[flag[1] ?? ''] = flag[2] ?? 'true';
        rest = rest.slice(flag[0].length);
      }
    }
    const raw = rest.trim();
    const json = parseJsonArray(raw);
    if (keyword === 'FROM') {
      const [image = '', as, name] = raw.split(/\s+/);
      stages.push({ image, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    }
    const instruction: Instruction = {
      keyword,
      flags,
      raw,
      ...(json ? { json } : {}),
      args: json ?? (raw === '' ? [] : raw.split(/\s+/)),
      line,
      stage: stages.length - 1,
    };
    instructions.push(instruction);
    stages.at(-1)?.instructions.push(instruction);
  }
  return { instructions, stages };
}

/** `ENV A=1 B="two words"` (and the legacy `ENV A 1`) → { A: '1', B: 'two words' }. */
export function envOf(instruction: Instruction): Record<string, string> {
  const env: Record<string, string> = {};
  if (!instruction.raw.includes('=')) {
    const [key = '', ...value] = instruction.args;
    env[key] = value.join(' ');
    return env;
  }
  for (const m of instruction.raw.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    const value = m[2] ?? '';
    env[m[1] ?? ''] = /^["']/.test(value) ? value.slice(1, -1) : value;
  }
  return env;
}

/** COPY/ADD sources: every argument but the last (the destination). */
export function copySources(instruction: Instruction): string[] {
  return instruction.args.slice(0, -1);
}

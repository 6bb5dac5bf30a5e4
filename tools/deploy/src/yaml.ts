/**
 * A small YAML writer for the plain JSON-like values this tool emits (manifests, serverless.yml).
 * Strings are written as JSON strings whenever YAML could read them as something else, so the
 * output parses back to exactly the input.
 */
export type Yamlable = string | number | boolean | null | undefined | readonly Yamlable[] | { readonly [key: string]: Yamlable };

const PLAIN = /^[A-Za-z_/.][A-Za-z0-9_./@-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value !== 'string') return String(value);
  return PLAIN.test(value) && !RESERVED.test(value) ? value : JSON.stringify(value);
}

const key = (k: string) => (PLAIN.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k));
const isObject = (v: Yamlable): v is { readonly [key: string]: Yamlable } => typeof v === 'object' && v !== null && !Array.isArray(v);

function lines(value: Yamlable, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    const out: string[] = [];
    for (const item of value as readonly Yamlable[]) {
      if (item === undefined) continue;
      if ((isObject(item) && Object.keys(item).length > 0) || (Array.isArray(item) && item.length > 0)) {
        const inner = lines(item, `${indent}  `);
        out.push(`${indent}- ${(inner[0] ?? '').trimStart()}`, ...inner.slice(1));
      } else out.push(`${indent}- ${inline(item)}`);
    }
    return out;
  }
  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return [`${indent}{}`];
    const out: string[] = [];
    for (const [k, v] of entries) {
      if ((isObject(v) && Object.keys(v).length > 0) || (Array.isArray(v) && v.length > 0)) out.push(`${indent}${key(k)}:`, ...lines(v, `${indent}  `));
      else out.push(`${indent}${key(k)}: ${inline(v)}`);
    }
    return out;
  }
  return [`${indent}${inline(value)}`];
}

function inline(value: Yamlable): string {
  if (Array.isArray(value)) return '[]';
  if (isObject(value)) return '{}';
  return scalar((value ?? null) as string | number | boolean | null);
}

export function toYaml(value: Yamlable, header?: string): string {
  const comment = header ? `${header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n` : '';
  return `${comment}${lines(value, '').join('\n')}\n`;
}

/**
 * Function bundles and native-binary pruning from the command line:
 *   tsx tools/build/src/main.ts <function|all> [--host node|cloud-function|lambda|all] [--out dist/functions]
 *   tsx tools/build/src/main.ts prune <node_modules> [--keep-gpu]
 *   tsx tools/build/src/main.ts layers [function|all] [--work <dir outside the repo>]
 * Bundles land in <out>/<function>/<host>/ (index.mjs + package.json). `layers` sizes the layers
 * deploy/functions.Dockerfile adds on top of its base image (see layers.ts).
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { bundleFunction, FUNCTIONS, HOSTS, type BundleResult } from './bundle.ts';
import { functionImageLayers } from './layers.ts';
import { LINUX_X64, pruneNativeBinaries } from './prune.ts';

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Columns padded to their widest cell; the `right` ones (numbers) right-aligned. */
function table(rows: string[][], right: readonly number[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function bundleCommand(positionals: string[], argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, allowPositionals: true, options: { host: { type: 'string' }, out: { type: 'string' } } });
  const args = z
    .object({
      target: z.enum([...FUNCTIONS, 'all']),
      host: z.enum([...HOSTS, 'all']).default('node'),
      out: z.string().min(1).default('dist/functions'),
    })
    .parse({ target: positionals[0], host: values.host, out: values.out });
  const functions = args.target === 'all' ? FUNCTIONS : [args.target];
  const hosts = args.host === 'all' ? HOSTS : [args.host];
  const results: BundleResult[] = [];
  for (const name of functions) {
    for (const host of hosts) results.push(await bundleFunction(name, host, join(resolve(args.out), name, host)));
  }
  const rows = [['function', 'host', 'entry bytes', 'with chunks', 'externals', 'ms']];
  for (const r of results) {
    rows.push([
      r.name,
      r.host,
      String(r.entryBytes),
      String(r.bundleBytes),
      Object.entries(r.externals)
        .map(([p, v]) => `${p}@${v}`)
        .join(' ') || '-',
      String(r.ms),
    ]);
  }
  process.stdout.write(`${table(rows, [2, 3, 5])}\n`);
  for (const r of results) for (const w of r.warnings) process.stderr.write(`warning (${r.name}/${r.host}): ${w}\n`);
}

async function pruneCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'keep-gpu': { type: 'boolean', default: false } },
  });
  const dir = z.string().min(1, 'give the node_modules folder to prune').parse(positionals[0]);
  const report = await pruneNativeBinaries(resolve(dir), { ...LINUX_X64, keepGpuProviders: values['keep-gpu'] });
  for (const path of report.removed) process.stdout.write(`removed ${path}\n`);
  process.stdout.write(`${dir}: ${mb(report.bytesBefore)} → ${mb(report.bytesAfter)} (${report.removed.length} paths removed)\n`);
}

async function layersCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { work: { type: 'string' } } });
  const target = z
    .enum([...FUNCTIONS, 'all'])
    .default('all')
    .parse(positionals[0]);
  const work = resolve(values.work ?? join(tmpdir(), 'mlops-layers'));
  const rows = [['function', 'layer', 'files', 'unpacked', "gzip'd tar"]];
  for (const name of target === 'all' ? FUNCTIONS : [target]) {
    process.stderr.write(`${name}: bundle, npm install --omit=dev, prune …\n`);
    const { layers } = await functionImageLayers(name, work);
    for (const l of layers)
      rows.push([
        name,
        l.instruction,
        String(l.files),
        `${mb(l.unpackedBytes)} (${l.unpackedBytes} B)`,
        `${mb(l.gzipBytes)} (${l.gzipBytes} B)`,
      ]);
  }
  process.stdout.write(`${table(rows, [2, 3, 4])}\nbase image node:20-slim not included (not pulled)\n`);
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'prune') await pruneCommand(rest);
  else if (command === 'layers') await layersCommand(rest);
  else await bundleCommand(command === undefined ? [] : [command], rest);
} catch (error) {
  const message = error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
  process.stderr.write(`build: ${message}\n`);
  process.exitCode = 1;
}

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, describe, expect, it } from 'vitest';
import { functionImagePlan, layerTar, measureLayer } from './layers.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function folder(files: Record<string, Buffer | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'layer-'));
  dirs.push(dir);
  for (const [path, data] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), data);
  }
  return dir;
}

/** Entry names and sizes of an uncompressed ustar archive (short names: no PAX headers). */
function tarEntries(tar: Buffer): { name: string; size: number; type: string }[] {
  const out: { name: string; size: number; type: string }[] = [];
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0;) {
    const field = (from: number, len: number) => tar.toString('latin1', at + from, at + from + len).replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    out.push({ name: field(0, 100), size, type: field(156, 1) });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('measureLayer', () => {
  it('counts files and bytes and gzips a compressible layer below its size', async () => {
    const text = 'export const handler = () => 1;\n'.repeat(1000); // 32 000 bytes
    const dir = await folder({ 'index.mjs': text, 'package.json': '{"name":"f"}', 'node_modules/a/b.js': 'x'.repeat(5000) });
    await symlink('../a/b.js', join(dir, 'node_modules', 'link.js'));
    const size = await measureLayer(dir, '/app');
    expect(size.files).toBe(4);
    expect(size.unpackedBytes).toBe(32_000 + 12 + 5000 + '../a/b.js'.length);
    expect(size.gzipBytes).toBeGreaterThan(0);
    expect(size.gzipBytes).toBeLessThan(size.unpackedBytes / 10);
    // A 512-byte header per entry (4 files, 2 folders), contents padded to 512-byte blocks, two zero blocks at the end.
    expect(size.tarBytes).toBe(6 * 512 + (32_256 + 512 + 5120) + 1024);

    const chunks: Buffer[] = [];
    for await (const chunk of layerTar(dir, '/app')) chunks.push(chunk);
    const tar = Buffer.concat(chunks);
    expect(tar.length).toBe(size.tarBytes);
    // Type 0 file, 2 symlink, 5 folder: every path lands under app/ as COPY … /app puts it.
    expect(
      tarEntries(tar)
        .map((e) => `${e.type} ${e.name} ${e.size}`)
        .sort(),
    ).toEqual([
      '0 app/index.mjs 32000',
      '0 app/node_modules/a/b.js 5000',
      '0 app/package.json 12',
      '2 app/node_modules/link.js 0',
      '5 app/node_modules/ 0',
      '5 app/node_modules/a/ 0',
    ]);
  });

  it('cannot compress random bytes: the gzip is at least as large', async () => {
    const dir = await folder({ 'model.bin': randomBytes(64 * 1024) });
    const size = await measureLayer(dir, '/app');
    expect(size.files).toBe(1);
    expect(size.unpackedBytes).toBe(65_536);
    expect(size.gzipBytes).toBeGreaterThan(65_536);
  });
});

describe('functionImagePlan', () => {
  it('reads the COPY layer and the build ENV from deploy/functions.Dockerfile', async () => {
    const plan = functionImagePlan(await readFile(join(REPO_ROOT, 'deploy/functions.Dockerfile'), 'utf8'));
    expect(plan.layers).toEqual([{ instruction: 'COPY --from=build /function /app', dest: '/app' }]);
    expect(plan.buildEnv.ONNXRUNTIME_NODE_INSTALL).toBe('skip');
  });

  it('refuses a layer it could not rebuild', () => {
    expect(() => functionImagePlan('FROM node:20-slim AS build\nFROM node:20-slim\nCOPY apps /app\n')).toThrow(
      /line 3: only COPY --from=build \/function/,
    );
  });
});

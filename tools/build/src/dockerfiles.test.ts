import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { describe, expect, it } from 'vitest';
import { copySources, envOf, parseDockerfile, type Dockerfile, type Stage } from './dockerfile.ts';

const DEPLOY = join(REPO_ROOT, 'deploy');
const DOCKERFILES = ['functions.Dockerfile', 'trainer-cpu.Dockerfile', 'trainer-gpu.Dockerfile'] as const;

async function load(name: string): Promise<Dockerfile> {
  return parseDockerfile(await readFile(join(DEPLOY, name), 'utf8'));
}

const finalStage = (file: Dockerfile): Stage => {
  const stage = file.stages.at(-1);
  if (!stage) throw new Error('no FROM');
  return stage;
};
const last = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).at(-1);
const envIn = (stage: Stage): Record<string, string> =>
  Object.assign({}, ...stage.instructions.filter((i) => i.keyword === 'ENV').map(envOf));

describe('the Dockerfile reader', () => {
  it('joins continuations, skips comments, reads flags and exec forms', () => {
    const file = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        'FROM node:20-slim AS build',
        'RUN --mount=type=cache,target=/root/.npm npm ci \\',
        '  # a comment inside a continuation',
        ' && echo done',
        'ENV A=1 \\',
        '    B="two words"',
        'copy --from=build --chown=node:node /function /app',
        '',
        'FROM python:3.11-slim',
        'ENTRYPOINT ["node", "index.mjs"]',
        'CMD echo [not json',
      ].join('\n'),
    );
    expect(file.stages.map((s) => [s.image, s.name])).toEqual([
      ['node:20-slim', 'build'],
      ['python:3.11-slim', undefined],
    ]);
    const [from, run, env, copy, , entrypoint, cmd] = file.instructions;
    expect(from?.line).toBe(2);
    expect(run).toMatchObject({ keyword: 'RUN', flags: { mount: 'type=cache,target=/root/.npm' }, raw: 'npm ci && echo done', line: 3 });
    expect(env && envOf(env)).toEqual({ A: '1', B: 'two words' });
    expect(copy).toMatchObject({ keyword: 'COPY', flags: { from: 'build', chown: 'node:node' }, stage: 0 });
    expect(copy && copySources(copy)).toEqual(['/function']);
    expect(entrypoint).toMatchObject({ json: ['node', 'index.mjs'], args: ['node', 'index.mjs'], stage: 1 });
    expect(cmd?.json).toBeUndefined();
    expect(cmd?.args).toEqual(['echo', '[not', 'json']);
  });
});

describe.each(DOCKERFILES)('deploy/%s', (name) => {
  it('builds FROM pinned major versions, never latest', async () => {
    const file = await load(name);
    const stageNames = new Set(file.stages.flatMap((s) => (s.name ? [s.name] : [])));
    for (const { image } of file.stages) {
      if (stageNames.has(image)) continue;
      expect(image, `${image} has no variables`).not.toMatch(/\$/);
      const tag = image.split('@')[0]?.split(':')[1];
      expect(tag, `${image} names a tag`).toBeDefined();
      expect(tag, `${image} is not latest`).not.toMatch(/latest/);
      expect(tag, `${image} starts with a major version`).toMatch(/^\d+(\.\d+)*(-|$)/);
    }
  });

  it('runs the final stage as a non-root user with an ENTRYPOINT', async () => {
    const stage = finalStage(await load(name));
    const user = last(stage, 'USER')?.args[0];
    expect(user, 'the final stage sets USER').toBeDefined();
    expect(user?.split(':')[0]).not.toMatch(/^(root|0)$/);
    const entry = last(stage, 'ENTRYPOINT') ?? last(stage, 'CMD');
    expect(entry?.json, 'ENTRYPOINT/CMD in exec form').toBeDefined();
  });

  it('copies only paths that exist in the repository (or come from another stage)', async () => {
    const file = await load(name);
    const copies = file.instructions.filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && i.flags.from === undefined);
    for (const copy of copies) {
      const sources = copySources(copy);
      expect(sources.length, `COPY on line ${copy.line} has a source`).toBeGreaterThan(0);
      for (const source of sources) expect(existsSync(join(REPO_ROOT, source)), `${source} (line ${copy.line}) exists`).toBe(true);
    }
    const stageNames = new Set(file.stages.flatMap((s) => (s.name ? [s.name] : [])));
    for (const copy of file.instructions.filter((i) => i.flags.from !== undefined)) {
      expect(stageNames.has(copy.flags.from ?? ''), `--from=${copy.flags.from} is a stage`).toBe(true);
    }
  });

  it('has a .dockerignore beside it identical to deploy/.dockerignore', async () => {
    const shared = await readFile(join(DEPLOY, '.dockerignore'), 'utf8');
    expect(await readFile(join(DEPLOY, `${name}.dockerignore`), 'utf8')).toBe(shared);
    for (const pattern of ['**/node_modules', '.mlops', '**/dist', '.nx', '.git']) expect(shared.split('\n')).toContain(pattern);
  });
});

describe('deploy/functions.Dockerfile', () => {
  it('serves index.mjs on 8080 in production mode', async () => {
    const file = await load('functions.Dockerfile');
    const stage = finalStage(file);
    expect(stage.image).toBe('node:20-slim');
    expect(last(stage, 'USER')?.args).toEqual(['node']);
    expect(last(stage, 'EXPOSE')?.args).toEqual(['8080']);
    expect(last(stage, 'ENTRYPOINT')?.json).toEqual(['node', 'index.mjs']);
    expect(envIn(stage)).toMatchObject({ NODE_ENV: 'production', PORT: '8080' });
    // Only the function folder reaches the final image.
    const copies = stage.instructions.filter((i) => i.keyword === 'COPY');
    expect(copies.map((c) => [c.flags.from, ...c.args])).toEqual([['build', '/function', '/app']]);
    const build = file.stages[0];
    expect(build?.instructions.filter((i) => i.keyword === 'ARG').map((i) => i.args[0])).toEqual(['FUNCTION', 'HOST=node']);
    const runs =
      build?.instructions
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.raw)
        .join('\n') ?? '';
    expect(runs).toContain('npm ci');
    expect(runs).toContain('tools/build/src/main.ts "$FUNCTION" --host "$HOST"');
    expect(runs).toContain('npm install --omit=dev');
    expect(runs).toContain('tools/build/src/main.ts prune /function/node_modules');
    expect(existsSync(join(REPO_ROOT, 'tools/build/src/main.ts'))).toBe(true);
  });
});

describe.each([
  ['trainer-cpu.Dockerfile', /^python:3\.11-slim$/, '/usr/local/bin/python3'],
  ['trainer-gpu.Dockerfile', /^pytorch\/pytorch:[\d.]+-cuda[\d.]+-cudnn\d+-runtime$/, '/opt/conda/bin/python'],
])('deploy/%s', (name, base, python) => {
  it('runs apps/trainer through tsx on Node 20 with the image python', async () => {
    const file = await load(name);
    const stage = finalStage(file);
    expect(stage.image).toMatch(base);
    expect(last(stage, 'ENTRYPOINT')?.json).toEqual(['node', '--import', 'tsx', 'apps/trainer/src/main.ts']);
    expect(existsSync(join(REPO_ROOT, 'apps/trainer/src/main.ts'))).toBe(true);
    expect(envIn(stage).MLOPS_PYTHON).toBe(python);
    const node = stage.instructions.find((i) => i.keyword === 'COPY' && i.args[0] === '/usr/local/bin/node');
    const nodeStage = file.stages.find((s) => s.name === node?.flags.from);
    expect(nodeStage?.image).toBe('node:20-slim');
  });
});

it('installs the CPU torch wheel from the PyTorch CPU index, with numpy', async () => {
  const runs = finalStage(await load('trainer-cpu.Dockerfile'))
    .instructions.filter((i) => i.keyword === 'RUN')
    .map((i) => i.raw)
    .join('\n');
  expect(runs).toMatch(/pip install .*--index-url https:\/\/download\.pytorch\.org\/whl\/cpu torch==\d/);
  expect(runs).toMatch(/pip install .*numpy==\d/);
});

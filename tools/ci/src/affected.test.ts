import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@mlops/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const manifest = z.object({ name: z.string(), dependencies: z.record(z.string(), z.string()).optional(), nx: z.unknown().optional() });

/** Every workspace package by name: its folder and the workspace packages it depends on. */
function workspaces(): Map<string, { dir: string; deps: string[]; deployable: boolean }> {
  const all = new Map<string, { dir: string; deps: string[]; deployable: boolean }>();
  for (const group of ['apps', 'libs', 'tools']) {
    for (const name of readdirSync(join(REPO_ROOT, group))) {
      const dir = `${group}/${name}`;
      let pkg: z.infer<typeof manifest>;
      try {
        pkg = manifest.parse(JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')));
      } catch {
        continue;
      }
      const deploy = JSON.stringify(pkg.nx ?? {}).includes('"deploy"');
      all.set(pkg.name, { dir, deps: Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@mlops/')), deployable: deploy });
    }
  }
  return all;
}

/** The functions that depend on `changed`, directly or through other packages: what nx affected must name. */
function dependents(changed: string): string[] {
  const all = workspaces();
  const reaches = (name: string, seen = new Set<string>()): boolean =>
    name === changed || (!seen.has(name) && (seen.add(name), (all.get(name)?.deps ?? []).some((d) => reaches(d, seen))));
  return [...all]
    .filter(([name, w]) => w.deployable && reaches(name))
    .map(([name]) => name.replace(/^@mlops\//, ''))
    .sort();
}

const every = () =>
  [...workspaces()]
    .filter(([, w]) => w.deployable)
    .map(([name]) => name.replace(/^@mlops\//, ''))
    .sort();

let clone: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: clone, stdio: 'pipe' }).toString();
/** What the deploy workflow's affected step prints, for the commit just made: the functions and whether the trainer's image changes. */
const affectedStep = (base: string) => {
  const out = execFileSync('sh', ['tools/ci/scripts/affected-functions.sh'], {
    cwd: clone,
    env: { ...process.env, BASE: base, GITHUB_OUTPUT: '', NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    stdio: 'pipe',
  }).toString();
  // The commit deployed is the one checked out, by its sha.
  expect(/^sha=(.*)$/m.exec(out)?.[1]).toBe(git('rev-parse', 'HEAD').trim());
  return {
    functions: z.array(z.string()).parse(JSON.parse(/functions=(.*)/.exec(out)![1]!)),
    trainer: z.enum(['true', 'false']).parse(/trainer=(.*)/.exec(out)![1]) === 'true',
  };
};
const affected = (base: string) => affectedStep(base).functions;
const change = (file: string, message: string) => {
  appendFileSync(join(clone, file), '\n// a change\n');
  git('commit', '-q', '-am', message);
  return git('rev-parse', 'HEAD~1').trim();
};

beforeAll(() => {
  clone = mkdtempSync(join(tmpdir(), 'affected-'));
  execFileSync('git', ['clone', '-q', REPO_ROOT, clone], { stdio: 'pipe' });
  git('config', 'user.email', 'ci@example.com');
  git('config', 'user.name', 'ci');
  // The clone runs the repository's own Nx; its node_modules would take minutes to install.
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'));
});
afterAll(() => rmSync(clone, { recursive: true, force: true }));

describe('the commit the changes are counted from', () => {
  const lastDeployed = (event: string) => {
    const bin = mkdtempSync(join(tmpdir(), 'fake-gh-'));
    // A stand-in gh: records its arguments, answers as the Actions API's --jq would.
    writeFileSync(join(bin, 'gh'), `#!/bin/sh\necho "$*" > ${bin}/args\necho 0123abc\n`);
    chmodSync(join(bin, 'gh'), 0o755);
    try {
      const out = execFileSync('sh', [join(REPO_ROOT, 'tools/ci/scripts/last-deployed.sh')], {
        env: { PATH: `${bin}:${process.env['PATH']}`, GITHUB_REPOSITORY: 'acme/mlops', GITHUB_EVENT_NAME: event, GITHUB_OUTPUT: '' },
      }).toString();
      return { out: out.trim(), args: existsSync(join(bin, 'args')) ? readFileSync(join(bin, 'args'), 'utf8').trim() : undefined };
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  };

  it("is the last successful deploy run's, not the push's own base", () => {
    expect(lastDeployed('push')).toEqual({
      out: 'base=0123abc',
      args: 'api repos/acme/mlops/actions/workflows/deploy.yml/runs?branch=main&status=success&per_page=1 --jq .workflow_runs[0].head_sha // ""',
    });
  });

  it('is none for a run by hand, which deploys every function', () => {
    expect(lastDeployed('workflow_dispatch')).toEqual({ out: 'base=', args: undefined });
  });
});

describe('nx affected in the deploy workflow', () => {
  it('names exactly the functions that depend on a changed library', () => {
    const base = change('libs/monitoring/src/rounding.ts', 'change monitoring');
    const expected = dependents('@mlops/monitoring');
    expect(expected.length).toBeGreaterThan(1);
    expect(affected(base)).toEqual(expected);
  });

  it('names only the function whose own code changed', () => {
    const base = change('apps/promote/src/errors.ts', 'change promote');
    expect(affected(base)).toEqual(['promote']);
  });

  it("a trainer change rebuilds the trainer's image and redeploys retrain-trigger, which names it", () => {
    const base = change('apps/trainer/src/main.ts', 'change trainer');
    expect(affectedStep(base)).toEqual({ functions: ['retrain-trigger'], trainer: true });
  });

  it("a change to the functions' Dockerfile names every function, and not the trainer", () => {
    const base = change('deploy/functions.Dockerfile', 'change the image');
    expect(affectedStep(base)).toEqual({ functions: every(), trainer: false });
  });

  it('names every function when the deploy tool changes, which decides how each is shipped', () => {
    const base = change('tools/deploy/src/sizing.ts', 'change the deploy tool');
    expect(affectedStep(base)).toEqual({ functions: every(), trainer: false });
  });

  it('names none for a change to the docs, and all without a known base', () => {
    const base = change('docs/security.md', 'change docs');
    expect(affectedStep(base)).toEqual({ functions: [], trainer: false });
    expect(affectedStep('0000000000000000000000000000000000000000')).toEqual({ functions: every(), trainer: true });
  });
});

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { REPO_ROOT } from '@mlops/config';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';

const WORKFLOWS = join(REPO_ROOT, '.github/workflows');
const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml'));
const text = (file: string) => readFileSync(join(WORKFLOWS, file), 'utf8');

const permissions = z.union([z.literal('read-all'), z.literal('write-all'), z.record(z.string(), z.enum(['read', 'write', 'none']))]);
const step = z.object({
  id: z.string().optional(),
  if: z.string().optional(),
  uses: z.string().optional(),
  run: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
});
const job = z.object({
  if: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
  outputs: z.record(z.string(), z.string()).optional(),
  needs: z.union([z.string(), z.array(z.string())]).optional(),
  uses: z.string().optional(),
  environment: z.string().optional(),
  permissions: permissions.optional(),
  steps: z.array(step).optional(),
});
const workflow = z.object({ permissions, jobs: z.record(z.string(), job) });
const read = (file: string) => workflow.parse(parse(text(file)));
const needsOf = (j: z.infer<typeof job>) => (j.needs === undefined ? [] : [j.needs].flat());
const package_ = z
  .object({ scripts: z.record(z.string(), z.string()) })
  .parse(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')));

describe('the GitHub Actions workflows', () => {
  it.each(files)("%s passes GitHub's own workflow parser without an error", async (file) => {
    const result = parseWorkflow({ name: file, content: text(file) }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
    const template = await convertWorkflowTemplate(result.context, result.value!);
    expect(template.errors ?? []).toEqual([]);
  });

  it('and the parser does report a broken one', () => {
    const broken = 'on: push\npermissions:\n  id-token: wrte\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n';
    const result = parseWorkflow({ name: 'broken.yml', content: broken }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors().length).toBeGreaterThan(0);
  });

  it('tests every push and pull request with the README test command and the npm cache', () => {
    const ci = parse(text('ci.yml')) as { on: Record<string, unknown> };
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['pull_request', 'push', 'workflow_call']));
    const steps = read('ci.yml').jobs['test']!.steps!;
    expect(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with).toMatchObject({ cache: 'npm', 'node-version': 20 });
    expect(steps.at(-1)?.run).toBe('npm test');
    expect(readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8')).toContain('npm test');
  });

  it('deploys after the tests, the affected functions only, to staging and then production', () => {
    const { jobs } = read('deploy.yml');
    expect(Object.keys(jobs)).toEqual(['test', 'affected', 'staging', 'production']);
    expect(jobs['test']?.uses).toBe('./.github/workflows/ci.yml');
    expect(needsOf(jobs['affected']!)).toEqual(['test']);
    expect(needsOf(jobs['staging']!)).toEqual(['affected']);
    expect(needsOf(jobs['production']!)).toEqual(['affected', 'staging']);
    for (const name of ['staging', 'production']) expect(jobs[name]?.uses).toBe('./.github/workflows/deploy-environment.yml');
    expect(text('deploy.yml')).toMatch(/environment: staging\n/);
    expect(text('deploy.yml')).toMatch(/environment: production\n/);
    expect(read('deploy-environment.yml').jobs['deploy']?.environment).toBe('${{ inputs.environment }}');
  });

  it('counts the changes from the last successful deploy and deploys the commit by its sha', () => {
    const { jobs } = read('deploy.yml');
    const affected = jobs['affected']!;
    expect(affected.permissions).toEqual({ contents: 'read', actions: 'read' });
    expect(affected.steps?.filter((s) => s.run).map((s) => s.run)).toEqual([
      'sh tools/ci/scripts/last-deployed.sh',
      'sh tools/ci/scripts/affected-functions.sh',
    ]);
    for (const name of ['staging', 'production']) {
      expect(jobs[name]?.with?.['ref']).toBe('${{ needs.affected.outputs.sha }}');
      expect(jobs[name]?.with?.['base']).toBe('${{ needs.affected.outputs.base }}');
    }
    expect(text('deploy.yml')).not.toContain('secrets: inherit');
  });

  it('builds the images once, in staging, and production deploys the same digests', () => {
    const { jobs } = read('deploy.yml');
    expect(jobs['staging']?.with).not.toHaveProperty('images');
    expect(jobs['staging']?.with?.['trainer']).toBe("${{ needs.affected.outputs.trainer == 'true' }}");
    expect(jobs['production']?.with?.['images']).toBe('${{ needs.staging.outputs.images }}');
    const deploy = read('deploy-environment.yml').jobs['deploy']!;
    const runs = (deploy.steps ?? []).filter((s) => s.run !== undefined);
    expect(runs.map((s) => s.run)).toEqual(['sh tools/ci/scripts/build-images.sh', 'sh tools/ci/scripts/deploy-functions.sh']);
    expect(runs[0]).toMatchObject({ id: 'images', if: "inputs.images == ''" });
    expect(deploy.outputs?.['images']).toBe('${{ inputs.images || steps.images.outputs.images }}');
    const outputs = (parse(text('deploy-environment.yml')) as { on: { workflow_call: { outputs: Record<string, { value: string }> } } }).on
      .workflow_call.outputs;
    expect(outputs['images']?.value).toBe('${{ jobs.deploy.outputs.images }}');
  });

  it('moves traffic between tagged Cloud Run revisions only by hand, in an environment', () => {
    const traffic = parse(text('traffic.yml')) as { on: Record<string, unknown> };
    expect(Object.keys(traffic.on)).toEqual(['workflow_dispatch']);
    const shift = read('traffic.yml').jobs['shift']!;
    expect(shift.if).toBe("vars.MLOPS_PROVIDER == 'cloudrun'");
    expect(shift.environment).toBe('${{ inputs.environment }}');
    expect(shift.steps?.at(-1)?.run).toBe('sh tools/ci/scripts/shift-traffic.sh');
  });

  it('grants id-token: write only where a job authenticates to a cloud, and reads elsewhere', () => {
    const AUTH = ['google-github-actions/auth@', 'aws-actions/configure-aws-credentials@'];
    for (const file of files) {
      const w = read(file);
      expect(w.permissions, file).toEqual({ contents: 'read' });
      for (const [name, j] of Object.entries(w.jobs)) {
        const authenticates = (j.steps ?? []).some((s) => AUTH.some((a) => s.uses?.startsWith(a)));
        // A job calling the deploying workflow must grant what its job needs.
        const callsDeploy = j.uses === './.github/workflows/deploy-environment.yml';
        const idToken = typeof j.permissions === 'object' ? j.permissions['id-token'] : undefined;
        expect(idToken === 'write', `${file} ${name}`).toBe(authenticates || callsDeploy);
        if (typeof j.permissions === 'object')
          expect(Object.values(j.permissions).filter((p) => p === 'write')).toHaveLength(idToken === 'write' ? 1 : 0);
      }
    }
    // No long-lived cloud key in repository secrets.
    for (const file of files) expect(text(file)).not.toMatch(/AWS_SECRET_ACCESS_KEY|credentials_json|secrets\.(GCP|AWS|GOOGLE)/);
  });

  it('calls, in every run: step, a script that exists in the repository', () => {
    for (const file of files) {
      for (const [name, j] of Object.entries(read(file).jobs)) {
        for (const { run } of j.steps ?? []) {
          if (run === undefined) continue;
          const npm = /^npm (?:test|run ([\w:-]+))$/.exec(run.trim());
          const sh = /^sh (\S+)$/.exec(run.trim());
          expect(npm ?? sh, `${file} ${name}: "${run}" is neither npm test/run <script> nor sh <script>`).not.toBeNull();
          if (npm) expect(package_.scripts[npm[1] ?? 'test'], `${file} ${name}: ${run}`).toBeDefined();
          if (sh) expect(existsSync(join(REPO_ROOT, sh[1]!)), `${file} ${name}: ${sh[1]}`).toBe(true);
        }
      }
    }
  });
});

import { loadSettings } from '@mlops/config';
import { createRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { runDriftScenario, SCENARIO_ENV, SCENARIO_SIZES } from '../loop/scenario.ts';
import { startStack } from '../loop/stack.ts';
import { createOutput, pct, table } from '../output.ts';
import { trainCommand } from './train.ts';

export interface RunFlags {
  scenario?: 'drift' | undefined;
  evaluateEvery?: string | undefined;
  json: boolean;
}

/**
 * The whole loop on this machine: predict, batch-score, evaluate (on a local cron),
 * retrain-trigger and promote. With --scenario drift, the scripted run from the README.
 */
export async function runCommand(flags: RunFlags): Promise<void> {
  const out = createOutput(flags.json);
  if (!flags.scenario) {
    const stack = await startStack(process.env, {
      evaluateEvery: flags.evaluateEvery ?? '0 */5 * * * *',
      onEvaluation: ({ ok, body }) => out.info(`evaluate: ${ok ? 'ok' : 'FAILED'} ${JSON.stringify(body).slice(0, 300)}`),
    });
    out.info(
      Object.entries(stack.urls)
        .map(([name, url]) => `${name.padEnd(16)} ${url}`)
        .join('\n'),
    );
    out.info(`evaluate runs on the cron "${flags.evaluateEvery ?? '0 */5 * * * *'}"; Ctrl-C stops everything`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
    await stack.close();
    return;
  }

  // Scenario settings first, so anything set in the environment wins.
  const env = { ...SCENARIO_ENV, ...process.env };
  const settings = loadSettings(env);
  const result = await runDriftScenario({
    settings,
    registry: createRegistry(openStore(settings.MLOPS_STORE), settings.MLOPS_MODEL),
    env,
    info: out.info,
    sizes: SCENARIO_SIZES,
    evaluateEvery: flags.evaluateEvery ?? '*/15 * * * * *',
    trainFirst: () => trainCommand({ json: false }),
  });
  out.result(
    [
      'live accuracy per phase (what clients were served):',
      table([['phase', 'version', 'n', 'accuracy'], ...result.phases.map((p) => [p.phase, p.version, p.n, pct(p.accuracy)])]),
      '',
      'held-out accuracy (never used as traffic or for training):',
      table([
        ['version', 'dataset', 'n', 'accuracy', '95% CI'],
        ...result.heldOut.map((h) => [h.version, h.dataset, h.n, pct(h.accuracy), `${pct(h.ci95[0])}–${pct(h.ci95[1])}`]),
      ]),
      '',
      `chart: ${result.chart}`,
      `this run's store: ${result.store} (look inside with MLOPS_STORE=${result.store} npx mlops registry audit)`,
      `scenario took ${(result.seconds / 60).toFixed(1)} min; champion ${result.versions.before} → ${result.versions.after}`,
    ].join('\n'),
    { ok: true, ...result },
  );
}

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { defaultData, type Settings } from '@mlops/config';
import { readExamples, shuffled } from '@mlops/data';
import { holdForInference, TextClassifier } from '@mlops/inference';
import { EvaluationRecordSchema, evaluateRows, readEvaluations, type EvaluationRecord } from '@mlops/monitoring';
import { createRegistry, NoChampionError, type ModelRegistry } from '@mlops/registry';
import { openStore } from '@mlops/storage';
import { z } from 'zod';
import { pct } from '../output.ts';
import { loopChart } from './chart.ts';
import { startStack, type Stack } from './stack.ts';
import { accuracyTable, replay, type LabelledText, type Served } from './traffic.ts';

export interface ScenarioSizes {
  imdbTraffic: number;
  sstTraffic: number;
  canaryRound: number;
  afterTraffic: number;
  heldOut: number;
}

export const SCENARIO_SIZES: ScenarioSizes = {
  imdbTraffic: 1000,
  sstTraffic: 10_000,
  canaryRound: 1000,
  afterTraffic: 1000,
  heldOut: 5000,
};

/** Short windows and quick reactions, so the loop plays out in minutes; any of them can be overridden from the environment. */
export const SCENARIO_ENV: NodeJS.ProcessEnv = {
  EVALUATE_WINDOW_MINUTES: '2',
  RETRAIN_COOLDOWN_MINUTES: '30',
  RETRAIN_MIN_NEW_LABELS: '2000',
  PROMOTE_CANARY_WEIGHT: '0.5',
  PROMOTE_CANARY_MIN_LABELS: '200',
  PREDICT_POLL_SECONDS: '2',
  PREDICT_LOG_FLUSH_SECONDS: '2',
  // Alerts reach the scenario through its webhook; the functions' own logs show errors only.
  LOG_LEVEL: 'error',
};

export interface ScenarioResult {
  phases: ReturnType<typeof accuracyTable>;
  heldOut: { version: string; dataset: string; n: number; accuracy: number; ci95: [number, number] }[];
  versions: { before: string; after: string };
  /** The store this run played out in (seedScenarioStore). */
  store: string;
  chart: string;
  seconds: number;
}

interface Context {
  settings: Settings;
  /** The registry of the store the scenario starts from (MLOPS_STORE); the scenario never changes its aliases. */
  registry: ModelRegistry;
  env: NodeJS.ProcessEnv;
  info: (message: string) => void;
  sizes: ScenarioSizes;
  evaluateEvery: string;
  /** Trains v1 into that store when it has no champion. */
  trainFirst: () => Promise<void>;
}

const runsAnswer = z.object({
  runs: z.array(
    z.object({
      run_id: z.string(),
      status: z.string(),
      started: z.string(),
      version: z.string().optional(),
      message: z.string().optional(),
      promote: z.string().optional(),
    }),
  ),
});

/**
 * The README's main job: serve v1, replay IMDB traffic with labels (healthy), switch to SST-2 phrases
 * (stale and drifting), let the loop retrain, gate, canary and promote v2 by itself, then measure
 * both versions on held-out data and chart the whole run.
 */
export async function runDriftScenario(ctx: Context): Promise<ScenarioResult> {
  const started = performance.now();
  const { info, sizes } = ctx;
  if (!(await ctx.registry.getAlias('champion'))) {
    info('phase 1: no champion yet, training v1 on IMDB train');
    await ctx.trainFirst();
  }
  const { store, registry } = await seedScenarioStore(ctx.registry, ctx.settings, new Date());
  const env: NodeJS.ProcessEnv = { ...ctx.env, MLOPS_STORE: store };
  const before = (await registry.getAlias('champion'))!.version;
  info(`phase 1: serving champion ${before} from a store of this run's own: ${store}`);

  const data = await scenarioData(ctx);
  const evaluations: EvaluationRecord[] = [];
  const alerts = await alertReceiver((alert) => info(`  ALERT ${alert}`));
  let lastLine = '';
  const stack = await startStack(
    { ALERT_WEBHOOK_URL: alerts.url, ...env },
    {
      evaluateEvery: ctx.evaluateEvery,
      onEvaluation: ({ ok, body }) => {
        const record = EvaluationRecordSchema.safeParse(body);
        if (ok && record.success) {
          evaluations.push(record.data);
          const line = describe(record.data);
          if (line !== lastLine) info(`  evaluate: ${(lastLine = line)}`); // unchanged repeats are not news
        } else info(`  evaluate failed: ${JSON.stringify(body).slice(0, 300)}`);
      },
    },
  );
  const served: Served[] = [];
  try {
    const play = async (phase: string, rows: LabelledText[]) => {
      const t0 = performance.now();
      let shown = 0;
      const out = await replay(stack.urls.predict, rows, {
        phase,
        apiKey: env.MLOPS_API_KEY,
        onProgress: (done) => {
          if (done - shown >= 2000 || done === rows.length) info(`  ${phase}: ${(shown = done)}/${rows.length} texts served and labelled`);
        },
      });
      served.push(...out);
      const seconds = (performance.now() - t0) / 1000;
      info(
        `  ${phase}: ${rows.length} texts in ${seconds.toFixed(1)} s (${(rows.length / seconds).toFixed(0)}/s), live accuracy ${pct(out.filter((s) => s.predicted === s.truth).length / out.length, 1)}`,
      );
    };
    const nextEvaluation = () => {
      const seen = evaluations.length;
      return waitForValue(async () => evaluations[seen], 120, 'no evaluation within 2 minutes');
    };

    info(`phase 2: IMDB test reviews as traffic, with their labels as feedback (${stack.urls.predict})`);
    await play('imdb', data.imdbTraffic);
    await nextEvaluation();

    info('phase 3: traffic switches to SST-2 phrases (short, a different distribution)');
    await play('sst2', data.sstTraffic);
    info('phase 4: waiting for evaluate to notice and retrain-trigger to start fine-tuning');
    const run = await waitForValue(
      async () => (await runs(stack, env.MLOPS_API_KEY)).at(-1),
      300,
      'no retraining started within 5 minutes; see the evaluations above',
    );
    const jobLog = join(ctx.settings.MLOPS_CACHE_DIR, 'job-logs', `${run.run_id}.log`);
    info(`  retrain ${run.run_id} started from ${before}; the training job's log: ${jobLog}`);
    const settled = await waitForValue(
      async () => {
        const current = (await runs(stack, env.MLOPS_API_KEY)).find((r) => r.run_id === run.run_id);
        return current && current.status !== 'running' ? current : undefined;
      },
      1800,
      `retrain ${run.run_id} did not finish within 30 minutes`,
      async (s) => info(`  retrain ${run.run_id} running (${s} s)${await lastStep(jobLog)}`),
    );
    if (settled.status !== 'succeeded') throw new Error(`retrain ${run.run_id} failed: ${settled.message}`);
    info(`  ${settled.version} registered; promote answered: ${settled.promote}`);
    const challenger = await registry.getAlias('challenger');
    if (!challenger || challenger.version !== settled.version)
      throw new Error(`promote did not start a canary of ${settled.version}: ${settled.promote}`);

    info(`phase 4: canary of ${challenger.version} on ${challenger.canaryWeight! * 100}% of clients; SST-2 traffic continues`);
    for (let round = 0; (await registry.getAlias('challenger')) !== undefined; round++) {
      if (round >= 5) throw new Error('the canary was not decided after 5 rounds of traffic');
      await play('canary', data.canary.slice(round * sizes.canaryRound, (round + 1) * sizes.canaryRound));
      await nextEvaluation();
      await nextEvaluation(); // the first may have started before this round's logs were flushed
    }
    const after = (await registry.getAlias('champion'))!.version;
    if (after === before) throw new Error(`the canary of ${settled.version} was rolled back; see the audit trail (mlops registry audit)`);
    info(`phase 5: ${after} is champion; traffic after the promotion`);
    await play('after', data.after);
    await nextEvaluation();

    info('phase 5: both versions on held-out data no traffic ever touched');
    const heldOut = [];
    for (const version of [before, after]) {
      // Held, so the functions' watchers in this process do not remove the folder of the retired champion meanwhile.
      const cached = await holdForInference(registry, version, ctx.settings.MLOPS_CACHE_DIR);
      const classifier = await TextClassifier.load(cached.dir);
      for (const [dataset, rows] of [
        ['SST-2 held out', data.sstHeldOut],
        ['IMDB test held out', data.imdbHeldOut],
      ] as const) {
        const m = await evaluateRows(classifier, rows);
        heldOut.push({ version, dataset, n: m.n, accuracy: m.accuracy, ci95: m.accuracy_ci95 });
      }
      await classifier.release();
      await cached.release();
    }

    const { records } = await readEvaluations(registry.store, registry.model);
    const svg = await loopChart(records, await registry.audit(), `${registry.model}: accuracy and drift over the scenario`);
    const chartKey = `reports/scenario-${new Date().toISOString().replace(/[:.]/g, '-')}.svg`;
    await registry.store.put(chartKey, svg);
    return {
      phases: accuracyTable(served),
      heldOut,
      versions: { before, after },
      store,
      chart: `${registry.store.uri}/${chartKey}`,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await stack.close();
    await alerts.close();
  }
}

/**
 * Each run plays out in a store of its own, `<MLOPS_STORE>/scenarios/<time>`, that starts with the
 * starting store's champion as its v1 and nothing else: no earlier run's traffic, feedback, retrains
 * or versions, so a second run is as whole and honest as the first, without training v1 again.
 */
export async function seedScenarioStore(
  from: ModelRegistry,
  settings: Pick<Settings, 'MLOPS_STORE' | 'MLOPS_CACHE_DIR' | 'MLOPS_ACTOR'>,
  at: Date,
): Promise<{ store: string; registry: ModelRegistry }> {
  const champion = await from.getAlias('champion');
  if (!champion) throw new NoChampionError(from.model, 'the scenario starts from one');
  const store = `${settings.MLOPS_STORE.replace(/\/+$/, '')}/scenarios/${at.toISOString().replace(/[:.]/g, '-')}`;
  const registry = createRegistry(openStore(store), from.model);
  if (!(await registry.getAlias('champion'))) {
    await registry.registerVersion(await from.downloadVersion(champion.version, settings.MLOPS_CACHE_DIR), {
      actor: settings.MLOPS_ACTOR,
      reason: `the scenario starts from ${from.model} ${champion.version} of ${from.store.uri}`,
    });
  }
  return { store, registry };
}

/** A Slack-compatible webhook on 127.0.0.1 that prints each alert's text: the alert channel, for real. */
async function alertReceiver(print: (text: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const parsed = z.object({ text: z.string() }).safeParse(JSON.parse(body || '{}'));
      print(parsed.success ? parsed.data.text.split('\n')[0]! : body.slice(0, 200));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/alerts`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const stepEvent = z.object({ event: z.literal('step'), step: z.number(), steps_total: z.number(), epoch: z.number(), loss: z.number() });

/** The training job's latest step from its JSON-lines log, e.g. ": step 300/940, epoch 1, loss 0.412". */
async function lastStep(log: string): Promise<string> {
  const lines = await readFile(log, 'utf8').then(
    (t) => t.trim().split('\n'),
    () => [],
  );
  for (const line of lines.reverse()) {
    try {
      const step = stepEvent.safeParse(JSON.parse(line));
      if (step.success)
        return `: step ${step.data.step}/${step.data.steps_total}, epoch ${step.data.epoch}, loss ${step.data.loss.toFixed(3)}`;
    } catch {
      // not a JSON line (stderr of the job)
    }
  }
  return '';
}

async function runs(stack: Stack, apiKey: string | undefined) {
  const res = await fetch(`${stack.urls['retrain-trigger']}/v1/runs`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  return runsAnswer.parse(await res.json()).runs;
}

/** Disjoint, seeded slices of the data packs for each phase and for the final held-out measurement. */
async function scenarioData(ctx: Context) {
  const read = async (path: string) => {
    const rows: LabelledText[] = [];
    for await (const e of readExamples(path, { requireLabel: true })) rows.push({ text: e.text, label: e.label! });
    return shuffled(rows, 42);
  };
  const { sizes } = ctx;
  const imdb = await read(defaultData(ctx.settings).eval);
  const sst = await read(join(ctx.settings.MLOPS_DATA_DIR, 'sst2', 'train.jsonl.gz'));
  const cut = (rows: LabelledText[], ...lengths: number[]) => {
    let at = 0;
    return lengths.map((n) => rows.slice(at, (at += n)));
  };
  const [imdbTraffic, imdbAfter, imdbHeldOut] = cut(imdb, sizes.imdbTraffic, sizes.afterTraffic / 2, sizes.heldOut);
  const [sstTraffic, canary, sstAfter, sstHeldOut] = cut(
    sst,
    sizes.sstTraffic,
    sizes.canaryRound * 5,
    sizes.afterTraffic / 2,
    sizes.heldOut,
  );
  return {
    imdbTraffic: imdbTraffic!,
    sstTraffic: sstTraffic!,
    canary: canary!,
    after: shuffled([...sstAfter!, ...imdbAfter!], 7),
    sstHeldOut: sstHeldOut!,
    imdbHeldOut: imdbHeldOut!,
  };
}

function describe(e: EvaluationRecord): string {
  const acc = e.champion.accuracy;
  const drift = e.champion.drift?.measures
    .filter((m) => m.drifting)
    .map((m) => `${m.name} ${m.value.toFixed(3)} > ${m.threshold.toFixed(3)}`);
  const challenger = e.challenger?.accuracy
    ? `; challenger ${e.challenger.version} ${pct(e.challenger.accuracy.accuracy, 1)} (n=${e.challenger.accuracy.n})`
    : '';
  const actions = e.actions.map((a) => `${a.kind}${a.ok ? '' : ' FAILED'}`).join(', ');
  return `${e.champion.version} ${e.status}: ${acc ? `accuracy ${pct(acc.accuracy, 1)} (95% CI ${pct(acc.accuracy_ci95[0], 1)}–${pct(acc.accuracy_ci95[1], 1)}, n=${acc.n})` : 'no labels'}${drift?.length ? `; drift ${drift.join(', ')}` : ''}${challenger}${actions ? ` → ${actions}` : ''}`;
}

/** Polls until `check` gives a value; past the deadline, fails with `message`. Ticks every 10 s for progress. */
async function waitForValue<T>(
  check: () => Promise<T | undefined>,
  seconds: number,
  message: string,
  tick?: (elapsed: number) => Promise<void>,
): Promise<T> {
  const t0 = Date.now();
  let lastTick = t0;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - t0 > seconds * 1000) throw new Error(message);
    if (tick && Date.now() - lastTick >= 10_000) {
      lastTick = Date.now();
      await tick(Math.round((lastTick - t0) / 1000));
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

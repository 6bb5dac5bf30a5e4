import { describe, expect, it } from 'vitest';
import { FUNCTION_SPECS, FUNCTIONS } from './config.ts';
import {
  CACHE_FILES_BESIDE_MODEL_MIB,
  DEFAULT_MODEL_MIB,
  MODEL_RSS_FACTOR,
  MODELS_HELD,
  RUNTIME_BASE_MIB,
  sizeFunction,
  sizedSpec,
  sizingLine,
  SizingError,
  type ModelCache,
} from './sizing.ts';

const CACHES: readonly ModelCache[] = ['disk', 'memory'];
/** A DistilBERT-base-sized ONNX file (docs/benchmarks.md, Real size). */
const DISTILBERT_MIB = 266;

const loadedMiB = (fn: keyof typeof MODELS_HELD, modelMiB: number) => RUNTIME_BASE_MIB + MODELS_HELD[fn] * MODEL_RSS_FACTOR * modelMiB;
const cacheMiB = (fn: keyof typeof MODELS_HELD, modelMiB: number) => MODELS_HELD[fn] * (modelMiB + CACHE_FILES_BESIDE_MODEL_MIB);

describe('sizeFunction', () => {
  it("keeps today's numbers for the default model on every provider", () => {
    for (const cache of CACHES) {
      for (const fn of FUNCTIONS) {
        const { memoryMiB, cpu, ephemeralStorageMiB } = sizeFunction(FUNCTION_SPECS[fn], DEFAULT_MODEL_MIB, cache);
        expect({ memoryMiB, cpu, ephemeralStorageMiB }, `${fn} ${cache}`).toEqual({
          memoryMiB: FUNCTION_SPECS[fn].memoryMiB,
          cpu: FUNCTION_SPECS[fn].cpu,
          ephemeralStorageMiB: undefined,
        });
      }
    }
  });

  it('gives Lambda predict the memory for its models and a /tmp that holds the cache for a 266 MiB model', () => {
    const s = sizeFunction(FUNCTION_SPECS.predict, DISTILBERT_MIB, 'disk');
    // 384 + 3 × 2.25 × 266 = 2180 MiB, above the spec's 2048; the cache, 3 × 274 MiB, does not fit 512 MB.
    expect([s.memoryMiB, s.ephemeralStorageMiB]).toEqual([2240, 1024]);
    expect(s.memoryMiB).toBeGreaterThanOrEqual(Math.max(FUNCTION_SPECS.predict.memoryMiB, loadedMiB('predict', DISTILBERT_MIB)));
    expect(s.memoryMiB % 64).toBe(0);
    expect(s.ephemeralStorageMiB).toBeGreaterThan(512);
    expect(s.ephemeralStorageMiB).toBeGreaterThanOrEqual(cacheMiB('predict', DISTILBERT_MIB));
    expect((s.ephemeralStorageMiB ?? 0) % 512).toBe(0);
  });

  it('raises Lambda memory above the spec once the models need it', () => {
    const s = sizeFunction(FUNCTION_SPECS.predict, 1000, 'disk');
    expect(s.memoryMiB).toBeGreaterThan(FUNCTION_SPECS.predict.memoryMiB);
    expect(s.memoryMiB).toBeGreaterThanOrEqual(loadedMiB('predict', 1000));
    expect(s.memoryMiB - loadedMiB('predict', 1000)).toBeLessThan(64);
  });

  it('counts the in-memory cache on Cloud Run / Cloud Functions and raises the CPU past 4 GiB', () => {
    const predict = sizeFunction(FUNCTION_SPECS.predict, DISTILBERT_MIB, 'memory');
    expect([predict.memoryMiB, predict.cpu]).toEqual([3072, 2]);
    expect(predict.memoryMiB).toBeGreaterThanOrEqual(loadedMiB('predict', DISTILBERT_MIB) + cacheMiB('predict', DISTILBERT_MIB));
    expect(predict.memoryMiB).toBeGreaterThan(sizeFunction(FUNCTION_SPECS.predict, DISTILBERT_MIB, 'disk').memoryMiB);
    expect(predict.memoryMiB % 256).toBe(0);
    expect(predict.ephemeralStorageMiB).toBeUndefined();

    const promote = sizeFunction(FUNCTION_SPECS.promote, 700, 'memory');
    expect(promote.memoryMiB).toBeGreaterThan(4096);
    expect(promote.cpu).toBe(2);
    expect(promote.reasons.join('; ')).toContain('2 CPU: more than 4 GiB');
    expect(sizeFunction(FUNCTION_SPECS.predict, 2000, 'memory')).toMatchObject({ cpu: 6 });
  });

  it('leaves the functions that load no model alone', () => {
    for (const cache of CACHES) {
      for (const fn of ['evaluate', 'retrain-trigger'] as const) {
        expect(sizeFunction(FUNCTION_SPECS[fn], 2000, cache)).toEqual({
          memoryMiB: FUNCTION_SPECS[fn].memoryMiB,
          cpu: FUNCTION_SPECS[fn].cpu,
          reasons: ['loads no model'],
        });
      }
    }
  });

  it('fails with one message naming the function, the model and the limit', () => {
    expect(() => sizeFunction(FUNCTION_SPECS.predict, 3000, 'disk')).toThrow(SizingError);
    expect(() => sizeFunction(FUNCTION_SPECS.predict, 3000, 'disk')).toThrow(
      /^predict: a 3000 MiB model needs more than Lambda's 10240 MB of memory \(3 models held/,
    );
    expect(() => sizeFunction(FUNCTION_SPECS['batch-score'], 6000, 'memory')).toThrow(
      /^batch-score: a 6000 MiB model needs more than the 32 GiB of memory an instance can have/,
    );
  });
});

describe('sizingLine', () => {
  it('says what was sized and why, with only the parts the provider has', () => {
    const lambda = sizingLine(sizedSpec(FUNCTION_SPECS.predict, DISTILBERT_MIB, 'disk'), DISTILBERT_MIB, 'disk');
    expect(lambda).toMatch(/^predict: memory 2240 MiB, \/tmp 1024 MB \(model 266 MiB: 3 models held at once × 2\.25 \+ 384 MiB runtime; /);
    expect(lambda).not.toContain('CPU');
    const cloudRun = sizingLine(sizedSpec(FUNCTION_SPECS.predict, DISTILBERT_MIB, 'memory'), DISTILBERT_MIB, 'memory');
    expect(cloudRun).toMatch(/^predict: memory \d+ MiB, 2 CPU \(model 266 MiB: .*in memory\)$/);
    expect(cloudRun).not.toContain('/tmp');
    expect(sizingLine(sizedSpec(FUNCTION_SPECS.evaluate, DISTILBERT_MIB, 'memory'), DISTILBERT_MIB, 'memory')).toBe(
      'evaluate: memory 2048 MiB, 1 CPU (loads no model)',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { CanaryRouter, routePoint } from './canary-router.ts';
import type { ServingModel } from './serving-model.ts';

const model = (version: string) => ({ metadata: { version } }) as ServingModel;

function router(challenger: ServingModel | undefined, alias: { version: string; canaryWeight?: number } | undefined) {
  const champion = model('v1');
  return new CanaryRouter({ current: () => champion }, { current: () => challenger, alias: () => alias });
}

describe('CanaryRouter', () => {
  const keys = Array.from({ length: 4000 }, (_, i) => `client-${i}`);

  it('sends the weighted share of keys to the challenger, the same key always to the same model', () => {
    const r = router(model('v2'), { version: 'v2', canaryWeight: 0.25 });
    const toChallenger = keys.filter((k) => r.pick(k)?.metadata.version === 'v2').length / keys.length;
    expect(toChallenger).toBeGreaterThan(0.22);
    expect(toChallenger).toBeLessThan(0.28);
    for (const k of keys.slice(0, 200)) expect(r.pick(k)?.metadata.version).toBe(r.pick(k)?.metadata.version);
    expect(r.canary()).toEqual({ version: 'v2', weight: 0.25 });
    expect(r.current()?.metadata.version).toBe('v1');
  });

  it('keeps a key with the challenger as the weight grows (sticky)', () => {
    const small = router(model('v2'), { version: 'v2', canaryWeight: 0.1 });
    const large = router(model('v2'), { version: 'v2', canaryWeight: 0.5 });
    for (const k of keys) if (small.pick(k)?.metadata.version === 'v2') expect(large.pick(k)?.metadata.version).toBe('v2');
  });

  it('serves only the champion without a canary: no challenger, weight 0, or a challenger still loading', () => {
    for (const r of [
      router(undefined, undefined),
      router(model('v2'), { version: 'v2', canaryWeight: 0 }),
      router(model('v2'), { version: 'v2' }),
      router(model('v2'), { version: 'v3', canaryWeight: 0.5 }), // alias moved, v3 not loaded yet
    ]) {
      expect(keys.every((k) => r.pick(k)?.metadata.version === 'v1')).toBe(true);
      expect(r.canary()).toBeUndefined();
    }
  });

  it('maps keys uniformly into [0, 1)', () => {
    const points = keys.map(routePoint);
    expect(Math.min(...points)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...points)).toBeLessThan(1);
    expect(points.filter((p) => p < 0.5).length / points.length).toBeCloseTo(0.5, 1);
  });
});

import { createHash } from 'node:crypto';
import type { ModelSource } from './model-watcher.ts';
import type { ServingModel } from './serving-model.ts';

/** What the router needs from a watcher: its model and the alias record's canary weight. */
export interface WatchedModel extends ModelSource {
  alias(): { version: string; canaryWeight?: number | undefined } | undefined;
}

/**
 * Champion/challenger routing for a canary: a request key hashes to a fixed point in [0, 1), so the
 * same key always reaches the same model while the weight stays put.
 */
export class CanaryRouter implements ModelSource {
  constructor(
    private readonly champion: ModelSource,
    private readonly challenger: WatchedModel,
  ) {}

  current(): ServingModel | undefined {
    return this.champion.current();
  }

  /** The model for this key: the challenger for its share of keys while a canary runs, else the champion. */
  pick(key: string): ServingModel | undefined {
    const canary = this.canary();
    if (canary && routePoint(key) < canary.weight) return this.challenger.current();
    return this.champion.current();
  }

  /** The running canary: a loaded challenger that is the version its alias names, with a weight. */
  canary(): { version: string; weight: number } | undefined {
    const model = this.challenger.current();
    const alias = this.challenger.alias();
    const weight = alias?.canaryWeight ?? 0;
    return model && weight > 0 && model.metadata.version === alias?.version ? { version: alias.version, weight } : undefined;
  }
}

export function routePoint(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 0x1_0000_0000;
}

import type { AliasRecord, ModelRegistry } from '@mlops/registry';
import type { Logger } from 'pino';
import { holdForInference, type CachedVersion } from './cache-holds.ts';
import { ServingModel, type ServingOptions } from './serving-model.ts';

export interface ModelSource {
  current(): ServingModel | undefined;
}

export interface ModelWatcherOptions {
  alias: string;
  cacheDir: string;
  pollMs: number;
  serving: ServingOptions;
  logger: Logger;
  /** Unload the model when the alias is removed (a challenger); a champion keeps serving. */
  unloadWhenUnset?: boolean;
}

/**
 * Serves whatever version a registry alias points at. A moved alias is downloaded, loaded and
 * warmed in the background, then swapped in; requests already running finish on the old version,
 * and its cached files are removed unless another watcher holds them. A version that fails to load
 * leaves the old one serving, and is not retried until the alias moves again.
 */
export class ModelWatcher implements ModelSource {
  private model: ServingModel | undefined;
  /** The cache folder of `model`, held while it serves. */
  private cached: CachedVersion | undefined;
  private record: AliasRecord | undefined;
  private failedVersion: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly opts: ModelWatcherOptions,
  ) {}

  current(): ServingModel | undefined {
    return this.model;
  }

  /** The alias as last read (e.g. a challenger's canary weight). */
  alias(): AliasRecord | undefined {
    return this.record;
  }

  /** Loads the aliased version (if it can) and keeps following the alias. Never throws. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
  }

  /** One check of the alias; concurrent calls share the same check. */
  refresh(): Promise<void> {
    this.refreshing ??= this.check().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async check(): Promise<void> {
    const { alias, logger } = this.opts;
    let record: AliasRecord | undefined;
    try {
      record = await this.registry.getAlias(alias);
    } catch (error) {
      logger.error({ err: error, alias }, 'cannot read the model alias; keeping the current model');
      return;
    }
    this.record = record;
    const version = record?.version;
    if (!version) {
      if (this.model && this.opts.unloadWhenUnset) {
        // A challenger whose canary ended: stop serving it.
        const previous = this.model;
        const previousCached = this.cached;
        [this.model, this.cached] = [undefined, undefined];
        logger.info({ alias, previous: previous.metadata.version }, 'alias removed; model unloaded');
        await previous.retire();
        await previousCached?.release();
      } else if (!this.model && !this.opts.unloadWhenUnset) logger.warn({ alias }, 'no model version under the alias yet');
      return;
    }
    const failure = this.model?.failure;
    if (failure)
      logger.error({ err: failure, alias, version: this.model?.metadata.version }, 'the serving model stopped working; reloading');
    else if (version === this.model?.metadata.version || version === this.failedVersion) return;

    const started = performance.now();
    let cached: CachedVersion | undefined;
    let next: ServingModel;
    try {
      const info = await this.registry.getVersion(version);
      cached = await holdForInference(this.registry, version, this.opts.cacheDir);
      next = await ServingModel.load(cached.dir, { version, created: info.created, metrics: info.metrics }, this.opts.serving);
    } catch (error) {
      this.failedVersion = version;
      logger.error(
        { err: error, alias, version, serving: this.model?.metadata.version ?? null },
        'cannot load model version; keeping the current model',
      );
      await cached?.release().catch(() => undefined);
      return;
    }
    const [previous, previousCached] = [this.model, this.cached];
    [this.model, this.cached, this.failedVersion] = [next, cached, undefined];
    logger.info(
      { alias, version, previous: previous?.metadata.version, ...next.layout, ms: Math.round(performance.now() - started) },
      'model loaded',
    );
    await previous?.retire();
    await previousCached?.release();
  }
}

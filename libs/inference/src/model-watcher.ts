import type { AliasRecord, ModelRegistry, VersionInfo } from '@mlops/registry';
import type { Logger } from 'pino';
import { holdForInference, type CachedVersion } from './cache-holds.ts';
import { ServingModel, type ServingOptions } from './serving-model.ts';

export interface ModelSource {
  current(): ServingModel | undefined;
}

/** Waits between attempts at one version: `firstMs`, doubling up to `maxMs` (each with jitter, see `retryDelay`). */
export interface Backoff {
  firstMs: number;
  maxMs: number;
}

/**
 * How long a version that failed to load waits before the next attempt. `transient`: the download
 * failed (a store timeout, a 5xx, a network error), which usually passes. `broken`: the files came
 * but do not work (the ONNX model or config fails to load, a file does not match its sha256).
 */
export interface RetryPolicy {
  transient: Backoff;
  broken: Backoff;
}

/**
 * Transient: 1 s doubling to 5 min, so a cold instance serves soon after the store recovers.
 * Broken: 10 min doubling to 2 h. Such a version is held back (each attempt downloads it again),
 * but not forever: a load can also fail for reasons of this instance (memory, a full /tmp).
 */
export const DEFAULT_RETRY: RetryPolicy = {
  transient: { firstMs: 1_000, maxMs: 300_000 },
  broken: { firstMs: 600_000, maxMs: 7_200_000 },
};

export interface ModelWatcherOptions {
  alias: string;
  cacheDir: string;
  pollMs: number;
  serving: ServingOptions;
  logger: Logger;
  /** Unload the model when the alias is removed (a challenger); a champion keeps serving. */
  unloadWhenUnset?: boolean;
  /** Backoff after a failed load (default `DEFAULT_RETRY`). */
  retry?: { transient?: Partial<Backoff>; broken?: Partial<Backoff> };
}

type FailureKind = keyof RetryPolicy;

/** The attempt-th wait (from 1): the backoff's doubling, capped, then "equal jitter" (a random point in its upper half). */
export function retryDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const full = Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.min(attempt - 1, 50));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** A registry error that says the version's files themselves are wrong, not that the store failed to answer. */
function isBrokenDownload(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'UNKNOWN_VERSION' || code === 'UNKNOWN_FILE' || code === 'CORRUPT_FILE';
}

/**
 * Serves whatever version a registry alias points at. A moved alias is downloaded, loaded and
 * warmed in the background, then swapped in; requests already running finish on the old version,
 * and its cached files are removed unless another watcher holds them. A version that fails to load
 * leaves the old one serving (or none) and is tried again after a backoff (`RetryPolicy`), on a
 * timer of its own, whatever `pollMs`; the backoff starts over when the alias moves or a load succeeds.
 */
export class ModelWatcher implements ModelSource {
  private model: ServingModel | undefined;
  /** The cache folder of `model`, held while it serves. */
  private cached: CachedVersion | undefined;
  private record: AliasRecord | undefined;
  /** The version that last failed to load, how, its failures of that kind in a row, and when it may be tried again. */
  private failed: { version: string; kind: FailureKind; attempts: number; retryAt: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private refreshing: Promise<void> | undefined;
  private readonly retry: RetryPolicy;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly opts: ModelWatcherOptions,
  ) {
    this.retry = {
      transient: { ...DEFAULT_RETRY.transient, ...opts.retry?.transient },
      broken: { ...DEFAULT_RETRY.broken, ...opts.retry?.broken },
    };
  }

  current(): ServingModel | undefined {
    return this.model;
  }

  /** The alias as last read (e.g. a challenger's canary weight). */
  alias(): AliasRecord | undefined {
    return this.record;
  }

  /** Loads the aliased version (if it can) and keeps following the alias. Never throws. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
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
    // The alias moved off the version that failed: its backoff no longer applies.
    if (this.failed && this.failed.version !== version) this.clearFailure();
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
    if (!failure && version === this.model?.metadata.version) return;
    // Still waiting out the backoff (the retry timer checks again when it ends).
    if (this.failed && performance.now() < this.failed.retryAt) return;
    if (failure)
      logger.error({ err: failure, alias, version: this.model?.metadata.version }, 'the serving model stopped working; reloading');

    const started = performance.now();
    let info: VersionInfo;
    let cached: CachedVersion;
    try {
      info = await this.registry.getVersion(version);
      cached = await holdForInference(this.registry, version, this.opts.cacheDir);
    } catch (error) {
      this.failedToLoad(version, isBrokenDownload(error) ? 'broken' : 'transient', error);
      return;
    }
    let next: ServingModel;
    try {
      next = await ServingModel.load(cached.dir, { version, created: info.created, metrics: info.metrics }, this.opts.serving);
    } catch (error) {
      await cached.release().catch(() => undefined);
      // The files came but do not load; unless this very version served here before (a reload
      // after its workers died), where the cause is more likely this instance than the files.
      this.failedToLoad(version, version === this.model?.metadata.version ? 'transient' : 'broken', error);
      return;
    }
    this.clearFailure();
    const [previous, previousCached] = [this.model, this.cached];
    [this.model, this.cached] = [next, cached];
    logger.info(
      { alias, version, previous: previous?.metadata.version, ...next.layout, ms: Math.round(performance.now() - started) },
      'model loaded',
    );
    await previous?.retire();
    await previousCached?.release();
  }

  /** Logs the failure with the next attempt's time and schedules it. */
  private failedToLoad(version: string, kind: FailureKind, error: unknown): void {
    const same = this.failed?.version === version && this.failed.kind === kind;
    const attempts = (same ? this.failed!.attempts : 0) + 1;
    const delay = retryDelay(this.retry[kind], attempts);
    this.failed = { version, kind, attempts, retryAt: performance.now() + delay };
    this.opts.logger.error(
      {
        err: error,
        alias: this.opts.alias,
        version,
        serving: this.model?.metadata.version ?? null,
        failure: kind,
        attempts,
        retryInMs: delay,
        retryAt: new Date(Date.now() + delay).toISOString(),
      },
      'cannot load model version; keeping the current model and retrying later',
    );
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      if (this.failed?.version !== version) return;
      // Due now, even if the timer fired a hair early; after any check in flight, which may have skipped it.
      this.failed.retryAt = 0;
      const again = () => void this.refresh();
      void (this.refreshing ?? Promise.resolve()).then(again, again);
    }, delay);
    this.retryTimer.unref();
  }

  private clearFailure(): void {
    this.failed = undefined;
    clearTimeout(this.retryTimer);
  }
}

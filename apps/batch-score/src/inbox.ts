import { NoModelError, scoreObject, type BatchContext } from './job.ts';

export interface InboxWatcher {
  /** Stops polling; resolves once the file being scored (if any) is done. */
  stop(): Promise<void>;
}

/**
 * The embedded default's trigger: lists the input prefix every `pollMs` and scores what is new.
 * Files are scored one at a time, and a poll starts only after the previous one ends, so a long
 * file is never picked up twice. Summaries make re-listing safe across restarts; the in-memory
 * map only saves the small reads for objects already handled by this process.
 */
export function watchInbox(ctx: BatchContext, opts: { pollMs: number }): InboxWatcher {
  const handled = new Map<string, string>(); // key -> etag
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  const poll = async () => {
    for (const object of await ctx.store.list(ctx.inputPrefix)) {
      if (stopped) return;
      if (handled.get(object.key) === object.etag) continue;
      try {
        await scoreObject(ctx, { key: object.key });
        handled.set(object.key, object.etag);
      } catch (error) {
        if (error instanceof NoModelError) {
          ctx.logger.warn('no model loaded yet; the inbox waits');
          return;
        }
        ctx.logger.error({ err: error, key: object.key }, 'scoring failed; retrying on the next poll');
      }
    }
  };
  const schedule = () => {
    polling = poll()
      .catch((error: unknown) => ctx.logger.error({ err: error, prefix: ctx.inputPrefix }, 'cannot list the inbox'))
      .finally(() => {
        if (!stopped) timer = setTimeout(schedule, opts.pollMs).unref();
      });
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
    },
  };
}

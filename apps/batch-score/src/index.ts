export { createBatchScoreApp } from './app.ts';
export { GCS_FINALIZED, handleS3Event, type S3Notification } from './events.ts';
export { watchInbox, type InboxWatcher } from './inbox.ts';
export { NoModelError, scoreObject, type BatchContext, type ScoreOutcome } from './job.ts';
export { localOutputPaths, scoreLocalFile, scoreToFile, type BatchSummary, type Scorer, type ScoreOptions } from './score.ts';
export { createBatchScoreService } from './service.ts';
export { batchServingOptions, loadBatchSettings, type BatchSettings } from './settings.ts';
export { startNodeHost } from './hosts/node.ts';

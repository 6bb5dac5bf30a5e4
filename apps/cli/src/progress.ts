import cliProgress from 'cli-progress';
import type { TrainProgress } from '@mlops/trainer';
import { pct } from './output.ts';

/** Renders training events as a progress bar with ETA on stderr (periodic lines when not a TTY). */
export function trainingProgress(info: (message: string) => void): { onProgress: (p: TrainProgress) => void; stop: () => void } {
  const options = { stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000, hideCursor: true, etaBuffer: 200 };
  const trainBar = new cliProgress.SingleBar(
    {
      ...options,
      format: 'train    [{bar}] {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | {speed} ex/s | ETA {eta_formatted}',
    },
    cliProgress.Presets.shades_classic,
  );
  const evalBar = new cliProgress.SingleBar(
    { ...options, format: 'evaluate [{bar}] {percentage}% | {value}/{total} rows | ETA {eta_formatted}' },
    cliProgress.Presets.shades_classic,
  );
  let active: cliProgress.SingleBar | undefined;
  const stop = () => {
    active?.stop();
    active = undefined;
  };
  const onProgress = (p: TrainProgress) => {
    if (p.phase === 'prepare') {
      stop();
      info(p.message);
    } else if (p.phase === 'evaluate') {
      if (active !== evalBar) {
        stop();
        evalBar.start(p.total, 0);
        active = evalBar;
      }
      evalBar.update(p.done);
    } else {
      const e = p.event;
      if (e.event === 'start') {
        info(
          `training on ${e.device} (${e.threads} threads, torch ${e.torch}): ${e.params.toLocaleString()} parameters, ${e.train_rows} rows, ${e.steps_total} steps`,
        );
        trainBar.start(e.steps_total, 0, { epoch: 1, loss: '-', speed: '-' });
        active = trainBar;
      } else if (e.event === 'step') {
        trainBar.update(e.step, { epoch: e.epoch, loss: e.loss.toFixed(4), speed: e.examples_per_second.toFixed(0) });
      } else if (e.event === 'eval') {
        trainBar.updateETA();
        process.stderr.write('\n');
        info(
          `epoch ${e.epoch}: validation accuracy ${pct(e.validation_accuracy)}, loss ${e.validation_loss.toFixed(4)} (${e.epoch_seconds}s)${e.best ? ' *best' : ''}`,
        );
      } else if (e.event === 'early_stop') {
        stop();
        info(`early stop after epoch ${e.epoch}: no improvement (best epoch ${e.best_epoch})`);
      } else if (e.event === 'export') {
        stop();
        info(`exported ONNX in ${e.seconds}s`);
      }
    }
  };
  return { onProgress, stop };
}

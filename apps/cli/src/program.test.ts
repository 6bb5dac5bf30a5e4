import { fineTuneHyperparameters, loadRetrainSettings, trainingJobArgs } from '@mlops/retrain-trigger';
import { DEFAULT_HYPERPARAMETERS, flagName, HYPERPARAMETER_NAMES, parseJobArgs, TRAINING_SETTINGS } from '@mlops/trainer';
import { describe, expect, it } from 'vitest';
import { givenHyperparameters, program } from './program.ts';

const train = program.commands.find((command) => command.name() === 'train')!;

describe('mlops train', () => {
  it("exposes every trainer flag with the trainer's default and description, and no training flag of its own", () => {
    for (const name of HYPERPARAMETER_NAMES) {
      const option = train.options.find((o) => o.long === `--${flagName(name)}`);
      expect(option, `--${flagName(name)}`).toBeDefined();
      expect(option!.attributeName()).toBe(name);
      expect(option!.defaultValue).toBe(DEFAULT_HYPERPARAMETERS[name]);
      expect(option!.description).toBe(TRAINING_SETTINGS[name].description);
    }
    const ownOptions = train.options
      .map((o) => o.long)
      .filter((long) => !HYPERPARAMETER_NAMES.some((name) => long === `--${flagName(name)}`));
    expect(ownOptions).toEqual(['--data', '--eval', '--base', '--text-field', '--label-field', '--labels', '--json']);
  });

  it("passes on only the training flags given, parsed by the trainer's types", () => {
    train.parseOptions(['--lr', '0.01', '--weight-decay', '0', '--n-layers', '3']);
    expect(givenHyperparameters(train)).toEqual({ lr: 0.01, weightDecay: 0, nLayers: 3 });
    // Throw instead of exiting the test process, and keep the usage text out of the test output.
    train.exitOverride().configureOutput({ writeErr: () => undefined });
    expect(() => train.parseOptions(['--warmup-ratio', '2'])).toThrow(/argument '2' is invalid. must be between 0 and 1/);
  });
});

describe("retrain-trigger's training job", () => {
  it("asks for its fine-tuning values (3 epochs, lr 5e-4) by names the trainer's own parser reads", () => {
    const args = trainingJobArgs({
      dataKey: 'datasets/r-1/train.jsonl',
      baseVersion: 'v4',
      runId: 'r-1',
      reason: 'drift',
      hyperparameters: fineTuneHyperparameters(loadRetrainSettings({})),
    });
    expect(parseJobArgs(args)).toEqual({
      data: 'store:datasets/r-1/train.jsonl',
      eval: 'none',
      base: undefined,
      baseVersion: 'v4',
      runId: 'r-1',
      reason: 'drift',
      hyper: { epochs: 3, lr: 5e-4 },
    });
  });
});

import { parseArgs } from 'node:util';
import { z } from 'zod';
import { flagName, HYPERPARAMETER_NAMES, TRAINING_SETTINGS, type Hyperparameters } from './hyperparameters.ts';
import { labelListSchema } from './training-data.ts';

const jobArgsSchema = z.object({
  data: z.string().min(1),
  eval: z.string().min(1).optional(),
  base: z.string().min(1).optional(),
  'base-version': z
    .string()
    .regex(/^v[1-9][0-9]*$/)
    .optional(),
  'run-id': z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
    .optional(),
  reason: z.string().optional(),
  labels: labelListSchema.optional(),
  'text-field': z.string().min(1).optional(),
  'label-field': z.string().min(1).optional(),
});

// Keyed by flag name, so an error names the flag that was given (`--max-length`), not the TypeScript name.
const hyperparameterFlagsSchema = z.strictObject(
  Object.fromEntries(HYPERPARAMETER_NAMES.map((name) => [flagName(name), TRAINING_SETTINGS[name].type.optional()])),
);

export interface JobArgs {
  data: string;
  eval?: string | undefined;
  base?: string | undefined;
  baseVersion?: string | undefined;
  runId?: string | undefined;
  reason?: string | undefined;
  /** The classes in order; a --base-version's own classes are used when absent. */
  labels?: string[] | undefined;
  textField?: string | undefined;
  labelField?: string | undefined;
  /** Only the flags given; trainModel fills in the rest. */
  hyper: Partial<Hyperparameters>;
}

/** The training job's command line (main.ts), as retrain-trigger and the launchers pass it. Throws on unknown flags. */
export function parseJobArgs(argv: string[]): JobArgs {
  const flags = [...Object.keys(jobArgsSchema.shape), ...Object.keys(hyperparameterFlagsSchema.shape)];
  const { values } = parseArgs({ args: argv, options: Object.fromEntries(flags.map((name) => [name, { type: 'string' as const }])) });
  const args = jobArgsSchema.parse(values);
  const given = hyperparameterFlagsSchema.parse(
    Object.fromEntries(Object.entries(values).filter(([name]) => name in hyperparameterFlagsSchema.shape)),
  );
  const hyper: Partial<Hyperparameters> = Object.fromEntries(
    HYPERPARAMETER_NAMES.flatMap((name) => (given[flagName(name)] === undefined ? [] : [[name, given[flagName(name)]]])),
  );
  return {
    data: args.data,
    eval: args.eval,
    base: args.base,
    baseVersion: args['base-version'],
    runId: args['run-id'],
    reason: args.reason,
    labels: args.labels,
    textField: args['text-field'],
    labelField: args['label-field'],
    hyper,
  };
}

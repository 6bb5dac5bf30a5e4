import {
  givenHyperparametersSchema,
  HYPERPARAMETER_NAMES,
  flagName,
  labelListSchema,
  TRAINING_SETTINGS,
  type Hyperparameters,
} from '@mlops/trainer';
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { evaluateCommand } from './commands/evaluate.ts';
import { predictCommand } from './commands/predict.ts';
import { registryAudit, registryImport, registryList, registryRollback, registrySetAlias, registryShow } from './commands/registry.ts';
import { runCommand } from './commands/run.ts';
import { scoreCommand } from './commands/score.ts';
import { serveCommand } from './commands/serve.ts';
import { trainCommand } from './commands/train.ts';
import { fail } from './output.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

// Commander hands options over untyped: each command's are parsed once here, at the edge.
const json = { json: z.boolean().default(false) };
const modelRef = { version: z.string().optional(), alias: z.string().optional() };
const textField = { textField: z.string().min(1).optional() };
const dataFields = { ...textField, labelField: z.string().min(1).optional() };
const trainFlags = z.object({
  ...json,
  ...dataFields,
  data: z.string().optional(),
  eval: z.string().optional(),
  base: z.string().optional(),
  labels: z.array(z.string()).optional(),
});
const evaluateFlags = z.object({ ...json, ...modelRef, ...dataFields, data: z.string() });
const predictFlags = z.object({ ...json, ...modelRef });
const scoreFlags = z.object({ ...json, ...modelRef, ...textField });
const setAliasFlags = z.object({ ...json, expect: z.string().optional(), reason: z.string().optional() });
const jsonFlags = z.object(json);
const serveFlags = z.object({ port: z.number().optional(), host: z.string() });
const rollbackFlags = z.object({ ...json, expect: z.string().optional(), reason: z.string().optional() });
const importFlags = z.object({
  ...json,
  ...dataFields,
  reference: z.string().optional(),
  eval: z.string().optional(),
  reason: z.string().optional(),
});
const runFlags = z.object({ ...json, scenario: z.enum(['drift']).optional(), evaluateEvery: z.string().optional() });

/** Commander calls actions with (...arguments, options, command): validate the options, report any error once. */
function run<S extends z.ZodType, P extends unknown[]>(schema: S, action: (flags: z.infer<S>, ...args: P) => Promise<void>) {
  return async (...received: unknown[]) => {
    const raw = received.at(-2);
    const wantsJson = typeof raw === 'object' && raw !== null && (raw as { json?: unknown }).json === true;
    try {
      const flags = schema.parse(raw);
      await action(flags, ...(received.slice(0, -2) as P));
    } catch (error) {
      fail(error, wantsJson);
    }
  };
}

/** Commander's argument parser from a setting's zod type, so a bad value fails with the setting's own message. */
function parsedBy<T>(type: z.ZodType<T>) {
  return (value: string): T => {
    const parsed = type.safeParse(value);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'invalid value');
    return parsed.data;
  };
}

/**
 * The training flags given on the command line. The defaults shown in --help are the trainer's and
 * stay there: a base model keeps its own max length unless one is asked for.
 */
export function givenHyperparameters(command: Command): Partial<Hyperparameters> {
  const given = HYPERPARAMETER_NAMES.filter((name) => command.getOptionValueSource(name) === 'cli');
  return givenHyperparametersSchema.parse(Object.fromEntries(given.map((name) => [name, command.getOptionValue(name)])));
}

/** The `mlops` command, built without running (main.ts parses the process arguments). */
export const program = new Command('mlops')
  .description('Train, evaluate, register and serve a transformer text classifier.')
  .showHelpAfterError();
const jsonOption = () => new Option('--json', 'print one JSON object as the last line').default(false);
const versionOptions = (command: Command) =>
  command
    .addOption(new Option('--version <v>', 'registry version, e.g. v3').conflicts('alias'))
    .addOption(new Option('--alias <a>', 'registry alias (default: champion)'));
// Where the text and the label are in a data file, for every command that reads one.
const textFieldOption = (command: Command) => command.option('--text-field <name>', 'CSV column or JSON key of the text (default: text)');
const dataFieldOptions = (command: Command) =>
  textFieldOption(command).option('--label-field <name>', 'CSV column or JSON key of the label (default: label)');

const train = dataFieldOptions(
  program
    .command('train')
    .description('train a model (from scratch or --base), check its ONNX export, evaluate and register it')
    .option('--data <uri>', 'training data (JSONL, JSONL.gz or CSV); default: IMDB train')
    .option('--eval <uri>', 'evaluation data scored after training ("none" to skip); default: IMDB test')
    .option('--base <dir>', 'Hugging Face DistilBERT, BERT or RoBERTa folder to fine-tune from (model.safetensors or pytorch_model.bin)'),
).addOption(
  new Option(
    '--labels <a,b,c>',
    "the classes in order; a row with another label stops training (default: the data's sorted labels)",
  ).argParser(parsedBy(labelListSchema)),
);
// One flag per training setting, declared once in the trainer (TRAINING_SETTINGS).
for (const name of HYPERPARAMETER_NAMES) {
  const setting = TRAINING_SETTINGS[name];
  train.addOption(
    new Option(`--${flagName(name)} <value>`, setting.description).default(setting.default).argParser(parsedBy(setting.type)),
  );
}
train.addOption(jsonOption()).action(run(trainFlags, (flags) => trainCommand({ ...flags, hyper: givenHyperparameters(train) })));

versionOptions(
  dataFieldOptions(
    program
      .command('evaluate')
      .description('accuracy, precision, recall and F1 of a registered version on a labelled data set')
      .requiredOption('--data <uri>', 'labelled data (JSONL, JSONL.gz or CSV)'),
  ),
)
  .addOption(jsonOption())
  .action(run(evaluateFlags, evaluateCommand));

versionOptions(
  program.command('predict').description('classify texts with a registered version').argument('<texts...>', 'texts to classify'),
)
  .addOption(jsonOption())
  .action(run(predictFlags, (flags, texts: string[]) => predictCommand(texts, flags)));

versionOptions(
  textFieldOption(
    program
      .command('score')
      .description('score a local JSONL, JSONL.gz or CSV file; errors and a summary are written beside the predictions')
      .argument('<input>', 'file to score')
      .argument('[output]', 'predictions file (default: <input>.predictions.jsonl)'),
  ),
)
  .addOption(jsonOption())
  .action(run(scoreFlags, (flags, input: string, output: string | undefined) => scoreCommand(input, output, flags)));

program
  .command('serve')
  .description('run a function locally as an HTTP server (Cloud Run style)')
  .argument('<function>', 'predict | batch-score | evaluate | retrain-trigger | promote')
  .option('--port <n>', 'port (default: $PORT or 8080)', positiveInt)
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .action(run(serveFlags, (flags, name: string) => serveCommand(name, flags)));

program
  .command('run')
  .description('run the whole loop locally: the five functions and a cron calling evaluate')
  .option('--scenario <name>', 'play a scripted scenario and exit: "drift" (IMDB, then SST-2 traffic; the README\'s main job)')
  .option('--evaluate-every <cron>', 'croner pattern for evaluate (default: every 5 min; the scenario: every 15 s)')
  .addOption(jsonOption())
  .action(run(runFlags, runCommand));

const registry = program.command('registry').description('model versions, aliases and the audit trail');
registry.command('list').addOption(jsonOption()).action(run(jsonFlags, registryList));
registry
  .command('show')
  .argument('<version>')
  .addOption(jsonOption())
  .action(run(jsonFlags, (flags, version: string) => registryShow(version, flags)));
registry
  .command('set-alias')
  .argument('<alias>', 'champion, challenger or another [a-z][a-z0-9-]* name')
  .argument('<version>')
  .option('--expect <version>', 'only move the alias if it points at this version now ("none": only if unset)')
  .option('--reason <text>', 'why, for the audit trail')
  .addOption(jsonOption())
  .action(run(setAliasFlags, (flags, alias: string, version: string) => registrySetAlias(alias, version, flags)));
registry.command('audit').addOption(jsonOption()).action(run(jsonFlags, registryAudit));
registry
  .command('rollback')
  .description('make an earlier version champion at once (default: the previous champion); ends any canary; a retry repeats the answer')
  .argument('[version]')
  .option('--expect <version>', 'only roll back if this version is champion now')
  .option('--reason <text>', 'why, for the audit trail')
  .addOption(jsonOption())
  .action(run(rollbackFlags, (flags, version: string | undefined) => registryRollback(version, flags)));
dataFieldOptions(
  registry
    .command('import')
    .description('register an already trained Hugging Face folder (ONNX at onnx/model.onnx or model.onnx, tokenizer.json, id2label)')
    .argument('<dir>', 'the model folder; torch weights are optional, but without them the version cannot be fine-tuned')
    .option('--reference <uri>', "texts whose statistics become the version's drift reference (JSONL, JSONL.gz or CSV)")
    .option('--eval <uri>', 'labelled data to score; its metrics go into metrics.json (default: not evaluated)')
    .option('--reason <text>', 'why, for the audit trail'),
)
  .addOption(jsonOption())
  .action(run(importFlags, (flags, dir: string) => registryImport(dir, flags)));

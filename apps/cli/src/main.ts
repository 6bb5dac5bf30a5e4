import { Command, InvalidArgumentError } from 'commander';
import { evaluateCommand } from './commands/evaluate.ts';
import { predictCommand } from './commands/predict.ts';
import { registryAudit, registryList, registrySetAlias, registryShow } from './commands/registry.ts';
import { trainCommand } from './commands/train.ts';
import { fail } from './output.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
}

/** Wraps an action so that any error prints one clear message (and a JSON error line with --json). */
function run<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    const flags = args.findLast((a): a is { json?: boolean } => typeof a === 'object' && a !== null && !(a instanceof Command));
    try {
      await action(...args);
    } catch (error) {
      fail(error, flags?.json === true);
    }
  };
}

const program = new Command('mlops').description('Train, evaluate, register and serve a transformer text classifier.').showHelpAfterError();

program
  .command('train')
  .description('train a model (from scratch or --base), check its ONNX export, evaluate and register it')
  .option('--data <uri>', 'training data (JSONL, JSONL.gz or CSV); default: IMDB train')
  .option('--eval <uri>', 'evaluation data scored after training ("none" to skip); default: IMDB test')
  .option('--base <dir>', 'Hugging Face DistilBERT folder to fine-tune from')
  .option('--epochs <n>', 'training epochs', positiveInt)
  .option('--max-length <n>', 'tokens per text', positiveInt)
  .option('--vocab-size <n>', 'WordPiece vocabulary size when training a tokenizer', positiveInt)
  .option('--batch-size <n>', 'batch size', positiveInt)
  .option('--lr <x>', 'peak learning rate', positiveNumber)
  .option('--json', 'print one JSON object as the last line', false)
  .action(run(trainCommand));

program
  .command('evaluate')
  .description('accuracy, precision, recall and F1 of a registered version on a labelled data set')
  .requiredOption('--data <uri>', 'labelled data (JSONL, JSONL.gz or CSV)')
  .option('--version <v>', 'registry version, e.g. v3')
  .option('--alias <a>', 'registry alias (default: champion)')
  .option('--json', 'print one JSON object as the last line', false)
  .action(run(evaluateCommand));

program
  .command('predict')
  .description('classify texts with a registered version')
  .argument('<texts...>', 'texts to classify')
  .option('--version <v>', 'registry version')
  .option('--alias <a>', 'registry alias (default: champion)')
  .option('--json', 'print one JSON object as the last line', false)
  .action(run(predictCommand));

const registry = program.command('registry').description('model versions, aliases and the audit trail');
registry.command('list').option('--json', 'JSON output', false).action(run(registryList));
registry.command('show').argument('<version>').option('--json', 'JSON output', false).action(run(registryShow));
registry
  .command('set-alias')
  .argument('<alias>', 'champion, challenger or another [a-z][a-z0-9-]* name')
  .argument('<version>')
  .option('--expect <version>', 'only move the alias if it points at this version now ("none": only if unset)')
  .option('--reason <text>', 'why, for the audit trail')
  .option('--json', 'JSON output', false)
  .action(run(registrySetAlias));
registry.command('audit').option('--json', 'JSON output', false).action(run(registryAudit));

await program.parseAsync();

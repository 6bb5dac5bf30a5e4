import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fieldOptions, loadDataset, type DataFields } from '@mlops/data';
import { findOnnxModel, ModelLoadError, TextClassifier } from '@mlops/inference';
import { ConfigLabelsSchema, evaluateOnDataset, scoreReference, type DatasetEvaluation } from '@mlops/monitoring';
import { TORCH_WEIGHT_FILES, type ModelRegistry, type VersionFile, type VersionInfo } from '@mlops/registry';
import { jsonText, sha256OfFile } from '@mlops/storage';
import { z } from 'zod';

export interface ImportOptions extends DataFields {
  /** A Hugging Face folder: config.json with id2label, tokenizer.json, onnx/model.onnx or model.onnx. */
  dir: string;
  /** Texts whose statistics become the version's drift reference (reference.json). */
  reference?: string | undefined;
  /** Labelled data scored once; its metrics go into metrics.json. */
  eval?: string | undefined;
  registry: ModelRegistry;
  actor: string;
  reason?: string | undefined;
  onProgress?: (message: string) => void;
}

export interface ImportResult {
  version: VersionInfo;
  champion: boolean;
  classes: string[];
  /** The --eval metrics; undefined when the import was not evaluated. */
  metrics: DatasetEvaluation['metrics'] | undefined;
  reference: { source: string; n: number } | undefined;
}

/** Copied as they are when the folder has them; the ONNX model is placed at the registry's onnx/model.onnx. */
const COPIED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', ...TORCH_WEIGHT_FILES];
const REGISTRY_ONNX = 'onnx/model.onnx';
/** One pass before anything is written: a model whose outputs are not [texts, labels] fails here. */
const PROBE_TEXTS = ['a probe text', 'another, somewhat longer probe text'];

/**
 * Registers an already trained Hugging Face folder: it is loaded with the serving classifier and run
 * once, given a drift reference from `reference` texts and metrics from `eval` (as the trainer
 * stores them), and its lineage records where it came from and every file's sha256. Without torch
 * weights the version serves, is gated and canaried like any other, but cannot be fine-tuned.
 */
export async function importModel(opts: ImportOptions): Promise<ImportResult> {
  const source = resolve(opts.dir);
  const say = (message: string) => opts.onProgress?.(message);
  if (
    !(await stat(source).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new ModelLoadError(`${source} is not a folder`);
  const onnx = await findOnnxModel(source);
  await refuseExternalData(onnx);
  if (!(await isFile(join(source, 'tokenizer.json')))) {
    throw new ModelLoadError(
      `${source} has no tokenizer.json: serving tokenizes with the model's own (tokenizer.save_pretrained writes it)`,
    );
  }
  const classes = await readClasses(source);

  const classifier = await TextClassifier.load(source, { sessions: 1, threads: availableParallelism() });
  const work = await mkdtemp(join(tmpdir(), 'mlops-import-'));
  try {
    await classifier.predict(PROBE_TEXTS);
    say(`loaded ${relative(source, onnx)}: ${classes.length} classes (${classes.join(', ')}), max length ${classifier.maxLength}`);

    const data: Record<string, DatasetEvaluation['data']> = {};
    let reference: ImportResult['reference'];
    if (opts.reference) {
      // Distinct texts, as the trainer's validation set is.
      const { examples, report } = await loadDataset(opts.reference, { ...fieldOptions(opts), requireLabel: false });
      const scored = await scoreReference(
        classifier,
        report.source,
        examples.map((e) => e.text),
      );
      await writeFile(join(work, 'reference.json'), JSON.stringify(scored.reference));
      data.reference = {
        source: report.source,
        rows: report.rows,
        bad: report.bad,
        duplicates: report.duplicates,
        fingerprint: report.fingerprint,
      };
      reference = { source: report.source, n: scored.reference.n };
      say(`reference: ${reference.n} texts from ${report.source}`);
    }
    let metrics: ImportResult['metrics'];
    if (opts.eval) {
      const evaluation = await evaluateOnDataset(classifier, opts.eval, { read: fieldOptions(opts) });
      metrics = evaluation.metrics;
      data.eval = evaluation.data;
      say(`eval: accuracy ${metrics.accuracy} on ${metrics.n} rows of ${evaluation.data.source}`);
    }
    // The trainer's layout ({ eval: … }); a version nobody scored says so, and summarizes to no numbers.
    await writeFile(join(work, 'metrics.json'), jsonText(metrics ? { eval: metrics } : { evaluated: false }));

    for (const path of COPIED_FILES) if (await isFile(join(source, path))) await copyFile(join(source, path), join(work, path));
    await mkdir(join(work, dirname(REGISTRY_ONNX)), { recursive: true });
    await copyFile(onnx, join(work, REGISTRY_ONNX));
    const lineage = {
      imported: { source, onnx: relative(source, onnx), files: await describeFolder(source) },
      data,
      evaluated: metrics !== undefined,
      parent: null,
      environment: { node: process.version, platform: `${process.platform}-${process.arch}` },
    };
    await writeFile(join(work, 'lineage.json'), jsonText(lineage));

    const version = await opts.registry.registerVersion(work, { actor: opts.actor, reason: opts.reason ?? `imported from ${source}` });
    const champion = (await opts.registry.getAlias('champion'))?.version === version.version;
    return { version, champion, classes, metrics, reference };
  } finally {
    await classifier.release();
    await rm(work, { recursive: true, force: true });
  }
}

async function readClasses(dir: string): Promise<string[]> {
  const path = join(dir, 'config.json');
  let config: unknown;
  try {
    config = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ModelLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const parsed = ConfigLabelsSchema.safeParse(config);
  if (!parsed.success) {
    throw new ModelLoadError(
      `${path} has no id2label naming the classes (e.g. {"0": "negative", "1": "positive"}): ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** Weights kept beside the .onnx file (large exports) would not travel with it into the registry. */
async function refuseExternalData(onnx: string): Promise<void> {
  const name = basename(onnx);
  const external = (await readdir(dirname(onnx))).filter((f) => f !== name && f.startsWith(name));
  if (external.length > 0) {
    throw new ModelLoadError(`${onnx} keeps its weights in ${external.join(', ')}: the registry stores a single-file ONNX model`);
  }
}

/** Every file of the folder with its size and sha256, hidden folders (.git, .cache) left out. */
async function describeFolder(root: string): Promise<VersionFile[]> {
  const files: VersionFile[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = relative(root, join(entry.parentPath, entry.name));
    if (!entry.isFile() || path.split('/').some((part) => part.startsWith('.'))) continue;
    const full = join(root, path);
    files.push({ path, size: (await stat(full)).size, sha256: await sha256OfFile(full) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

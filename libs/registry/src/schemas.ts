import { z } from 'zod';

/** The files a model version may have (a Hugging Face style folder), in upload order. */
export const MODEL_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'onnx/model.onnx',
  'pytorch_model.bin',
  'model.safetensors',
  'metrics.json',
  'lineage.json',
  /** Per-row statistics of the validation predictions, the baseline drift is measured against. */
  'reference.json',
] as const;
export type ModelFile = (typeof MODEL_FILES)[number];

/**
 * What every version has: what serving reads, and what the registry records. The rest is uploaded
 * when present: versions written before reference.json existed stay valid, and a version imported
 * from an ONNX folder has no torch weights.
 */
export const REQUIRED_MODEL_FILES = [
  'config.json',
  'tokenizer.json',
  'onnx/model.onnx',
  'metrics.json',
  'lineage.json',
] as const satisfies readonly ModelFile[];

/** The weights the training core fine-tunes from (ONNX cannot be trained). */
export const TORCH_WEIGHT_FILES = ['pytorch_model.bin', 'model.safetensors'] as const satisfies readonly ModelFile[];

// Paths come from the store and are joined onto local folders: keep them inside.
const relativePath = z
  .string()
  .refine((p) => p !== '' && !p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'), {
    message: 'must be a relative path inside the version folder',
  });

export const VersionFileSchema = z.object({
  path: relativePath,
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Per dataset (or top level) numbers from metrics.json; nested arrays/objects are left out. */
export const MetricsSummarySchema = z.record(z.string(), z.union([z.number(), z.record(z.string(), z.number())]));

export const VersionInfoSchema = z.object({
  version: z.string(),
  model: z.string(),
  created: z.iso.datetime(),
  files: z.array(VersionFileSchema),
  metrics: MetricsSummarySchema,
  parent: z.string().optional(),
  /** sha256 over the files' paths and sha256s: a registration retried with the same content finds its version by it. */
  content: z.string().optional(),
});

export const AuditEventSchema = z.object({
  time: z.iso.datetime(),
  actor: z.string(),
  // A plain string so that readers older than a new action still read the trail.
  action: z.string(),
  model: z.string(),
  version: z.string().optional(),
  alias: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  reason: z.string(),
  /** The numbers behind a decision (metrics compared, thresholds). */
  details: z.record(z.string(), z.unknown()).optional(),
});

export const AliasRecordSchema = z.object({
  alias: z.string(),
  version: z.string(),
  updated: z.iso.datetime(),
  actor: z.string(),
  reason: z.string(),
  canaryWeight: z.number().min(0).max(1).optional(),
  /**
   * The audit events of this move (the move and the decision behind it), written to the trail
   * after the alias: a crash between the two writes leaves them here, and the next write or read
   * of the trail completes them under the same keys, so none is lost or doubled.
   */
  audit: z.object({ id: z.string(), events: z.array(AuditEventSchema) }).optional(),
});

export type VersionFile = z.infer<typeof VersionFileSchema>;
export type MetricsSummary = z.infer<typeof MetricsSummarySchema>;
export type VersionInfo = z.infer<typeof VersionInfoSchema>;
export type AliasRecord = z.infer<typeof AliasRecordSchema>;
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/** Whether the training core can fine-tune the version (trained versions can; an import from ONNX alone cannot). */
export function hasTorchWeights(info: Pick<VersionInfo, 'files'>): boolean {
  return info.files.some((f) => (TORCH_WEIGHT_FILES as readonly string[]).includes(f.path));
}

/** Keeps the numbers of metrics.json (top level and one level down, e.g. per dataset). */
export function summarizeMetrics(metrics: unknown): MetricsSummary {
  const parsed = z.record(z.string(), z.unknown()).safeParse(metrics);
  if (!parsed.success) throw new Error('metrics.json must hold a JSON object');
  const summary: MetricsSummary = {};
  for (const [name, value] of Object.entries(parsed.data)) {
    if (typeof value === 'number') summary[name] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const numbers = Object.entries(value).filter((e): e is [string, number] => typeof e[1] === 'number');
      if (numbers.length > 0) summary[name] = Object.fromEntries(numbers);
    }
  }
  return summary;
}

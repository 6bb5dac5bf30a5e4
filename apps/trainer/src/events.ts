import { z } from 'zod';

/** The JSON lines the PyTorch core prints on stdout, one per event (see python/mlops_trainer/events.py). */
export const coreEventSchema = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('start'),
    device: z.string(),
    threads: z.number(),
    amp: z.boolean(),
    torch: z.string(),
    params: z.number(),
    train_rows: z.number(),
    validation_rows: z.number(),
    epochs: z.number(),
    steps_total: z.number(),
  }),
  /** Fine-tuning: what the base checkpoint gave and which weights start fresh (python/mlops_trainer/base.py). */
  z.object({
    event: z.literal('base'),
    model_type: z.string(),
    files: z.array(z.string()),
    new_weights: z.array(z.string()),
    unused_weights: z.array(z.string()),
    head: z.string(),
    labels: z.array(z.string()),
  }),
  z.object({
    event: z.literal('step'),
    elapsed: z.number(),
    epoch: z.number(),
    step: z.number(),
    steps_total: z.number(),
    loss: z.number(),
    lr: z.number(),
    examples_per_second: z.number(),
  }),
  z.object({
    event: z.literal('eval'),
    epoch: z.number(),
    validation_loss: z.number(),
    validation_accuracy: z.number(),
    best: z.boolean(),
    epoch_seconds: z.number(),
  }),
  z.object({ event: z.literal('early_stop'), epoch: z.number(), best_epoch: z.number() }),
  z.object({ event: z.literal('export'), onnx: z.string(), seconds: z.number() }),
  z.object({
    event: z.literal('done'),
    best_epoch: z.number(),
    validation_accuracy: z.number(),
    validation_loss: z.number(),
    steps: z.number(),
    train_seconds: z.number(),
    export_seconds: z.number(),
    /** The config.json written, so lineage records the real shape (a base model's when fine-tuning). */
    config: z.record(z.string(), z.unknown()),
  }),
  z.object({ event: z.literal('error'), kind: z.string(), message: z.string() }),
]);

export type CoreEvent = z.infer<typeof coreEventSchema>;
export type DoneEvent = Extract<CoreEvent, { event: 'done' }>;
export type BaseEvent = Extract<CoreEvent, { event: 'base' }>;

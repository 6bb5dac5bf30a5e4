import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonText } from '@mlops/storage';

/** Token shards the PyTorch core reads with numpy: little-endian int32, ids padded to maxLength. */
export const SHARD_FORMAT = 'mlops-shards/v1';
const ROWS_PER_SHARD = 8192;

export interface TokenizedSplit {
  ids: number[][];
  labels: number[];
}

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  max_length: number;
  vocab_size: number;
  pad_id: number;
  labels: string[];
  splits: Record<'train' | 'validation', { rows: number; shards: ShardFiles[] }>;
}

interface ShardFiles {
  rows: number;
  ids: string;
  lengths: string;
  labels: string;
}

export async function writeShards(
  workDir: string,
  splits: Record<'train' | 'validation', TokenizedSplit>,
  meta: { maxLength: number; vocabSize: number; padId: number; labels: string[] },
): Promise<ShardManifest> {
  await mkdir(workDir, { recursive: true });
  const manifest: ShardManifest = {
    format: SHARD_FORMAT,
    max_length: meta.maxLength,
    vocab_size: meta.vocabSize,
    pad_id: meta.padId,
    labels: meta.labels,
    splits: { train: { rows: 0, shards: [] }, validation: { rows: 0, shards: [] } },
  };
  for (const name of ['train', 'validation'] as const) {
    const split = splits[name];
    for (let start = 0, n = 0; start < split.ids.length; start += ROWS_PER_SHARD, n++) {
      const rows = Math.min(ROWS_PER_SHARD, split.ids.length - start);
      const ids = new Int32Array(rows * meta.maxLength).fill(meta.padId);
      const lengths = new Int32Array(rows);
      const labels = Int32Array.from(split.labels.slice(start, start + rows));
      for (let r = 0; r < rows; r++) {
        const row = split.ids[start + r]!;
        if (row.length > meta.maxLength) throw new Error(`row ${start + r} has ${row.length} tokens > ${meta.maxLength}`);
        ids.set(row, r * meta.maxLength);
        lengths[r] = row.length;
      }
      const base = `${name}-${String(n).padStart(5, '0')}`;
      const files = { rows, ids: `${base}.ids.i32`, lengths: `${base}.lengths.i32`, labels: `${base}.labels.i32` };
      // Int32Array is little-endian on every platform Node runs on (x64, arm64).
      await Promise.all([
        writeFile(join(workDir, files.ids), new Uint8Array(ids.buffer)),
        writeFile(join(workDir, files.lengths), new Uint8Array(lengths.buffer)),
        writeFile(join(workDir, files.labels), new Uint8Array(labels.buffer)),
      ]);
      manifest.splits[name].shards.push(files);
      manifest.splits[name].rows += rows;
    }
  }
  await writeFile(join(workDir, 'manifest.json'), jsonText(manifest));
  return manifest;
}

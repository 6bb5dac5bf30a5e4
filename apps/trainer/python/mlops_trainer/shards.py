"""Reads the token shards the TypeScript side writes: int32 ids padded to max_length, lengths and labels."""
import json
import os
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch


@dataclass
class Split:
    ids: np.ndarray  # int32 [rows, max_length], padded with pad_id
    lengths: np.ndarray  # int32 [rows], tokens before padding
    labels: np.ndarray  # int32 [rows]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Manifest:
    max_length: int
    vocab_size: int
    pad_id: int
    labels: List[str]
    train: Split
    validation: Split


def _read(path: str, dtype: type, count: int) -> np.ndarray:
    data = np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))
    if data.size != count:
        raise ValueError(f"shard {path} holds {data.size} values, manifest says {count}")
    return data


def load_split(work: str, spec: dict, max_length: int) -> Split:
    ids, lengths, labels = [], [], []
    for shard in spec["shards"]:
        rows = int(shard["rows"])
        ids.append(_read(os.path.join(work, shard["ids"]), np.int32, rows * max_length).reshape(rows, max_length))
        lengths.append(_read(os.path.join(work, shard["lengths"]), np.int32, rows))
        labels.append(_read(os.path.join(work, shard["labels"]), np.int32, rows))
    if not labels:
        raise ValueError("split has no shards")
    split = Split(np.concatenate(ids), np.concatenate(lengths), np.concatenate(labels))
    if len(split) != int(spec["rows"]):
        raise ValueError(f"split holds {len(split)} rows, manifest says {spec['rows']}")
    return split


def load_manifest(work: str) -> Manifest:
    with open(os.path.join(work, "manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    if m.get("format") != "mlops-shards/v1":
        raise ValueError(f"unknown shard format {m.get('format')!r}")
    max_length = int(m["max_length"])
    return Manifest(
        max_length=max_length,
        vocab_size=int(m["vocab_size"]),
        pad_id=int(m["pad_id"]),
        labels=list(m["labels"]),
        train=load_split(work, m["splits"]["train"], max_length),
        validation=load_split(work, m["splits"]["validation"], max_length),
    )


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                           pool_batches: int) -> List[np.ndarray]:
    """Shuffled batches of similar lengths: shuffle, sort within pools of `pool_batches` batches,
    cut, shuffle the batches. Most padding disappears while batch order stays random."""
    order = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches: List[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def sorted_batches(lengths: np.ndarray, batch_size: int) -> List[np.ndarray]:
    """Deterministic length-sorted batches for evaluation."""
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def to_tensors(split: Split, index: np.ndarray, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Trims a batch to its longest row: attention cost falls with the square of the length."""
    width = int(split.lengths[index].max())
    ids = torch.from_numpy(split.ids[index, :width].astype(np.int64))
    mask = (torch.arange(width)[None, :] < torch.from_numpy(split.lengths[index].astype(np.int64))[:, None]).long()
    labels = torch.from_numpy(split.labels[index].astype(np.int64))
    return ids.to(device), mask.to(device), labels.to(device)



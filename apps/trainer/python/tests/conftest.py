import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

POSITIVE, NEGATIVE = 5, 6


def write_split(work: str, name: str, rows: int, max_length: int, rng: np.random.Generator) -> dict:
    """Rows of random filler tokens where one marker token decides the label."""
    lengths = rng.integers(4, max_length + 1, size=rows).astype(np.int32)
    labels = rng.integers(0, 2, size=rows).astype(np.int32)
    ids = np.zeros((rows, max_length), dtype=np.int32)
    for i in range(rows):
        n = lengths[i]
        ids[i, :n] = rng.integers(7, 50, size=n)
        ids[i, 0], ids[i, n - 1] = 2, 3
        ids[i, rng.integers(1, n - 1)] = POSITIVE if labels[i] else NEGATIVE
    files = {kind: f"{name}-00000.{kind}.i32" for kind in ("ids", "lengths", "labels")}
    ids.astype("<i4").tofile(os.path.join(work, files["ids"]))
    lengths.astype("<i4").tofile(os.path.join(work, files["lengths"]))
    labels.astype("<i4").tofile(os.path.join(work, files["labels"]))
    return {"rows": rows, "shards": [{"rows": rows, **files}]}


@pytest.fixture
def work(tmp_path):
    rng = np.random.default_rng(1)
    max_length = 24
    manifest = {
        "format": "mlops-shards/v1", "max_length": max_length, "vocab_size": 50, "pad_id": 0,
        "labels": ["negative", "positive"],
        "splits": {"train": write_split(str(tmp_path), "train", 600, max_length, rng),
                   "validation": write_split(str(tmp_path), "validation", 120, max_length, rng)},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


TINY_MODEL = {"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64, "dropout": 0.1, "attention_dropout": 0.0,
              "classifier_dropout": 0.2, "initializer_range": 0.02}
TINY_TRAIN = {"epochs": 4, "batch_size": 16, "lr": 3e-3, "weight_decay": 0.01, "warmup_ratio": 0.06, "max_grad_norm": 1.0,
              "patience": 2, "seed": 42, "length_pool_batches": 50, "eval_batch_size": 128, "log_every": 10,
              "parity_rows": 20}


def tiny_job(work, out, base=None, **train) -> dict:
    """A complete job.json, as the TypeScript side writes it (the core has no defaults to fill gaps with)."""
    return {
        "work": str(work), "out": str(out), "base": None if base is None else str(base), "labels": ["negative", "positive"],
        "model": None if base is not None else dict(TINY_MODEL),
        "train": {**TINY_TRAIN, **train},
    }


def tiny_config(**fields):
    """A DistilBertConfig with every field named."""
    from mlops_trainer.model import DistilBertConfig
    values = {"vocab_size": 30, "dim": 16, "n_layers": 1, "n_heads": 2, "hidden_dim": 32, "activation": "gelu", "dropout": 0.1,
              "attention_dropout": 0.0, "seq_classif_dropout": 0.2, "max_position_embeddings": 8,
              "initializer_range": 0.02, "pad_token_id": 0, "labels": ["negative", "positive"], "inherited": {},
              **fields}
    return DistilBertConfig(**values)

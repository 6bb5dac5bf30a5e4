"""job.json, written by the TypeScript orchestrator (apps/trainer/src/core-job.ts from TRAINING_SETTINGS).

That table is the one source of every training setting, so nothing here has a default: a missing or
an unknown key is an error naming it, and a setting cannot silently fall back to a value of its own.
"""
from dataclasses import dataclass, fields
from typing import Dict, List, Optional, Type, TypeVar


class TrainingError(Exception):
    """A failure the orchestrator should report as is (exit code 3)."""


@dataclass(frozen=True)
class TrainParams:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_ratio: float
    max_grad_norm: float
    patience: int
    seed: int
    length_pool_batches: int
    eval_batch_size: int
    log_every: int
    parity_rows: int


@dataclass(frozen=True)
class ModelParams:
    """A fresh model's settings; its vocabulary, positions and padding id come from the shards, its labels from the job."""
    dim: int
    n_layers: int
    n_heads: int
    hidden_dim: int
    dropout: float
    attention_dropout: float
    classifier_dropout: float
    initializer_range: float


@dataclass(frozen=True)
class Job:
    work: str
    out: str
    base: Optional[str]
    # The task's labels: shard label i is labels[i]. A base head keeps its own order of the same labels.
    labels: List[str]
    model: Optional[ModelParams]  # None when fine-tuning: the base checkpoint's config.json fixes the model
    train: TrainParams


Section = TypeVar("Section", TrainParams, ModelParams)


def _exact_keys(raw: object, where: str, expected: List[str]) -> Dict[str, object]:
    if not isinstance(raw, dict):
        raise TrainingError(f"job.json: {where} must be an object, got {type(raw).__name__}")
    missing = [k for k in expected if k not in raw]
    unknown = sorted(k for k in raw if k not in expected)
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])
    if problems:
        raise TrainingError(f"job.json: {where}: {'; '.join(problems)}")
    return raw


def _section(cls: Type[Section], raw: object, where: str) -> Section:
    values = _exact_keys(raw, where, [f.name for f in fields(cls)])
    for f in fields(cls):
        value = values[f.name]
        # JSON has one number type: 1.0 arrives as 1, so a float setting takes an int; bool is never a number here.
        ok = isinstance(value, (int, float) if f.type is float else int) and not isinstance(value, bool)
        if not ok:
            raise TrainingError(f"job.json: {where}.{f.name} must be {'a number' if f.type is float else 'an integer'}, got {value!r}")
    return cls(**values)


def load_job(raw: object) -> Job:
    values = _exact_keys(raw, "the job", [f.name for f in fields(Job)])
    for key in ("work", "out"):
        if not isinstance(values[key], str) or not values[key]:
            raise TrainingError(f"job.json: {key} must be a path, got {values[key]!r}")
    base = values["base"]
    if base is not None and (not isinstance(base, str) or not base):
        raise TrainingError(f"job.json: base must be a path or null, got {base!r}")
    labels = values["labels"]
    if (not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(l, str) and l for l in labels)
            or len(set(labels)) != len(labels)):
        raise TrainingError(f"job.json: labels must be two or more distinct names, got {labels!r}")
    if (base is None) == (values["model"] is None):
        raise TrainingError("job.json: model must be null when fine-tuning from base, and set otherwise")
    return Job(
        work=values["work"], out=values["out"], base=base, labels=labels,
        model=None if base else _section(ModelParams, values["model"], "model"),
        train=_section(TrainParams, values["train"], "train"),
    )

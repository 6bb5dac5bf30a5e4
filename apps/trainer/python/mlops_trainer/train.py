"""Training loop: AdamW, warmup + linear decay, gradient clipping, early stopping on validation."""
import copy
import json
import math
import os
import random
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from .events import emit
from .export import export_onnx, save_hf, write_parity
from .job import Job, ModelParams, TrainingError, load_job
from .base import Classifier, load_base
from .model import DistilBertConfig, DistilBertForSequenceClassification
from .shards import Manifest, Split, length_grouped_batches, load_manifest, sorted_batches, to_tensors


# DistilBERT's own activation: the architecture's, not a training setting.
FRESH_ACTIVATION = "gelu"


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def fresh_config(model: ModelParams, manifest: Manifest, labels: List[str]) -> DistilBertConfig:
    """Every field named, so none falls back to a DistilBertConfig default."""
    return DistilBertConfig(
        vocab_size=manifest.vocab_size, dim=model.dim, n_layers=model.n_layers, n_heads=model.n_heads,
        hidden_dim=model.hidden_dim, activation=FRESH_ACTIVATION, dropout=model.dropout,
        attention_dropout=model.attention_dropout, seq_classif_dropout=model.classifier_dropout,
        max_position_embeddings=manifest.max_length, initializer_range=model.initializer_range,
        pad_token_id=manifest.pad_id, labels=labels, inherited={},
    )


def build_model(job: Job, manifest: Manifest) -> Tuple[Classifier, List[str]]:
    """The classifier and its label order (a kept base head's may differ from the job's)."""
    if job.base is None:
        assert job.model is not None  # load_job: a model section unless fine-tuning
        return DistilBertForSequenceClassification(fresh_config(job.model, manifest, job.labels)), job.labels
    base = load_base(job.base, job.labels)
    config = base.model.config
    if manifest.vocab_size > config.vocab_size:
        raise TrainingError(f"tokenizer has {manifest.vocab_size} tokens, base model only {config.vocab_size}")
    if manifest.max_length > config.usable_positions:
        raise TrainingError(f"max length {manifest.max_length} exceeds the base model's {config.usable_positions} positions")
    emit("base", model_type=base.model_type, files=base.files, new_weights=base.new, unused_weights=base.unused,
         head=base.head, labels=base.labels)
    return base.model, base.labels


def relabel(split: Split, job_labels: List[str], model_labels: List[str]) -> None:
    """Shard labels index the job's labels; the model's order may differ (a kept base head)."""
    if model_labels != job_labels:
        split.labels = np.array([model_labels.index(label) for label in job_labels], dtype=np.int32)[split.labels]


def param_groups(model: torch.nn.Module, weight_decay: float) -> List[Dict[str, object]]:
    # Standard transformer practice: no decay on biases and LayerNorm weights.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_linear(total: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return factor


@torch.no_grad()
def evaluate(model: Classifier, split: Split, device: torch.device,
             batch_size: int) -> Dict[str, float]:
    model.eval()
    loss_sum, correct = 0.0, 0
    for index in sorted_batches(split.lengths, batch_size):
        ids, mask, labels = to_tensors(split, index, device)
        logits = model(ids, mask).float()
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
    model.train()
    return {"loss": loss_sum / len(split), "accuracy": correct / len(split)}


def run(raw_job: object) -> None:
    job = load_job(raw_job)
    params = job.train
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda"
    rng = seed_everything(params.seed)

    t0 = time.monotonic()
    manifest = load_manifest(job.work)
    if manifest.labels != job.labels:
        raise TrainingError(f"shards were written for labels {manifest.labels}, the job names {job.labels}")
    model, labels = build_model(job, manifest)
    relabel(manifest.train, job.labels, labels)
    relabel(manifest.validation, job.labels, labels)
    model.to(device).train()
    steps_per_epoch = math.ceil(len(manifest.train) / params.batch_size)
    total_steps = steps_per_epoch * params.epochs
    emit("start", device=device.type, threads=threads, amp=amp, torch=torch.__version__,
         params=sum(p.numel() for p in model.parameters()), train_rows=len(manifest.train),
         validation_rows=len(manifest.validation), epochs=params.epochs, steps_total=total_steps,
         load_seconds=round(time.monotonic() - t0, 3))

    optimizer = torch.optim.AdamW(param_groups(model, params.weight_decay), lr=params.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(total_steps, int(total_steps * params.warmup_ratio)))
    scaler = torch.cuda.amp.GradScaler(enabled=amp)

    best: Optional[Dict[str, object]] = None
    best_state: Optional[Dict[str, torch.Tensor]] = None
    stale_epochs, step, train_seconds = 0, 0, 0.0
    for epoch in range(1, params.epochs + 1):
        epoch_start = time.monotonic()
        window_start, window_examples, window_loss, window_steps = time.monotonic(), 0, 0.0, 0
        for index in length_grouped_batches(manifest.train.lengths, params.batch_size, rng, params.length_pool_batches):
            ids, mask, labels = to_tensors(manifest.train, index, device)
            with torch.cuda.amp.autocast(enabled=amp):
                loss = F.cross_entropy(model(ids, mask).float(), labels)
            if not torch.isfinite(loss):
                raise TrainingError(f"loss became {loss.item()} at epoch {epoch} step {step + 1}; "
                                    f"lower the learning rate (now {params.lr})")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), params.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            step += 1
            window_examples += len(index)
            window_loss += loss.item()
            window_steps += 1
            if step % params.log_every == 0 or step == total_steps:
                seconds = time.monotonic() - window_start
                emit("step", epoch=epoch, step=step, steps_total=total_steps, loss=round(window_loss / window_steps, 5),
                     lr=schedule.get_last_lr()[0], examples_per_second=round(window_examples / max(seconds, 1e-9), 1))
                window_start, window_examples, window_loss, window_steps = time.monotonic(), 0, 0.0, 0
        train_seconds += time.monotonic() - epoch_start
        metrics = evaluate(model, manifest.validation, device, params.eval_batch_size)
        improved = best is None or metrics["accuracy"] > best["accuracy"] or (
            metrics["accuracy"] == best["accuracy"] and metrics["loss"] < best["loss"])
        if improved:
            best = {"epoch": epoch, **metrics}
            best_state = copy.deepcopy(model.state_dict())
            stale_epochs = 0
        else:
            stale_epochs += 1
        emit("eval", epoch=epoch, validation_loss=round(metrics["loss"], 5), validation_accuracy=round(metrics["accuracy"], 5),
             best=improved, epoch_seconds=round(time.monotonic() - epoch_start, 2))
        if stale_epochs >= params.patience and epoch < params.epochs:
            emit("early_stop", epoch=epoch, best_epoch=best["epoch"])
            break

    assert best is not None and best_state is not None
    model.load_state_dict(best_state)
    export_start = time.monotonic()
    out = job.out
    save_hf(model, out)
    onnx_path = export_onnx(model, out)
    write_parity(model, manifest.validation, params.parity_rows, os.path.join(job.work, "parity.json"))
    emit("export", onnx=onnx_path, seconds=round(time.monotonic() - export_start, 2))
    emit("done", best_epoch=best["epoch"], validation_accuracy=round(float(best["accuracy"]), 5),
         validation_loss=round(float(best["loss"]), 5), steps=step, train_seconds=round(train_seconds, 2),
         export_seconds=round(time.monotonic() - export_start, 2), config=model.config.to_hf())

"""Exports the trained classifier: HF weights, config.json, ONNX, and parity rows for the ONNX check."""
import inspect
import json
import os
from typing import Dict

import numpy as np
import torch

from .base import Classifier
from .shards import Split, sorted_batches, to_tensors

ONNX_OPSET = 14


class _LogitsOnly(torch.nn.Module):
    def __init__(self, model: Classifier):
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(*inputs)


def save_hf(model: Classifier, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    state: Dict[str, torch.Tensor] = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, os.path.join(out, "pytorch_model.bin"))
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(model.config.to_hf(), f, indent=2)
        f.write("\n")


def export_onnx(model: Classifier, out: str) -> str:
    """Inputs as optimum names them (token_type_ids only where the architecture has segments), logits out,
    batch and sequence dynamic."""
    model = model.cpu().eval()
    path = os.path.join(out, "onnx", "model.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Token ids that are not padding, so RoBERTa's positions trace the general case.
    ids = torch.full((2, 8), model.config.pad_token_id + 1, dtype=torch.int64) % model.config.vocab_size
    examples = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    names = list(model.onnx_inputs)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    # torch >= 2.9 defaults to the dynamo exporter, which needs onnxscript; the TorchScript one needs nothing.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(
            _LogitsOnly(model), tuple(examples[name] for name in names), path,
            input_names=names, output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET, do_constant_folding=True, **legacy,
        )
    return path


def write_parity(model: Classifier, split: Split, rows: int, path: str) -> None:
    """PyTorch logits on padded validation batches, for the ONNX runtime to reproduce."""
    model = model.cpu().eval()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(split), size=min(rows, len(split)), replace=False)
    records = []
    with torch.no_grad():
        for index in sorted_batches(split.lengths[pick], 16):
            ids, mask, _ = to_tensors(split, pick[index], torch.device("cpu"))
            logits = model(ids, mask)
            records.append({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "logits": logits.tolist()})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"batches": records}, f)

"""Pieces the DistilBERT, BERT and RoBERTa classifiers share: attention, masking, activations, initialisation."""
import math
from typing import Callable, Dict, Optional

import torch
from torch import nn
from torch.nn import functional as F

# transformers' ACT2FN names for the activations these checkpoints use; gelu_new is the tanh approximation.
ACTIVATIONS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


def activation(name: object) -> Callable[[torch.Tensor], torch.Tensor]:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} is not supported (supported: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


def mask_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive mask: padded keys get a large negative score (finite, so fp16 and ONNX stay NaN-free)."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class Attention(nn.Module):
    """Scaled dot-product attention over already projected queries, keys and values [batch, seq, dim]."""

    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"hidden size {dim} is not divisible by {n_heads} heads")
        self.n_heads = n_heads
        # Fixed at build time so the ONNX trace keeps the scale a constant, not a traced shape.
        self.scale = 1.0 / math.sqrt(dim // n_heads)
        # Dropout on the [batch, heads, seq, seq] matrix slows a CPU step markedly (docs/benchmarks.md): skipped at 0.
        self.dropout: Optional[nn.Dropout] = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        bs, seq, dim = q.shape
        head = dim // self.n_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(bs, seq, self.n_heads, head).transpose(1, 2)

        weights = torch.softmax((split(q) * self.scale) @ split(k).transpose(2, 3) + bias, dim=-1)
        if self.dropout is not None:
            weights = self.dropout(weights)
        return (weights @ split(v)).transpose(1, 2).reshape(bs, seq, dim)


def init_weights(module: nn.Module, std: float) -> None:
    """transformers' initialisation: normal weights, zero biases, unit LayerNorms, a zero padding row."""
    if isinstance(module, nn.Linear):
        module.weight.data.normal_(0.0, std)
        module.bias.data.zero_()
    elif isinstance(module, nn.Embedding):
        module.weight.data.normal_(0.0, std)
        if module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        module.weight.data.fill_(1.0)
        module.bias.data.zero_()


def hf_labels(labels: list) -> Dict[str, object]:
    """The label keys of a transformers config.json."""
    return {"id2label": {str(i): label for i, label in enumerate(labels)},
            "label2id": {label: i for i, label in enumerate(labels)}}

"""A DistilBERT sequence classifier whose parameter names and config match Hugging Face's
`DistilBertForSequenceClassification`, so checkpoints load both ways without conversion."""
from dataclasses import dataclass, fields
from typing import Dict, List, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .layers import Attention, activation, hf_labels, init_weights, mask_bias


@dataclass(kw_only=True)
class DistilBertConfig:
    # No defaults: they would be a second source of training settings. Every value comes from the job
    # file (train.fresh_config) or a base model's config.json (from_hf).
    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    hidden_dim: int
    activation: str
    dropout: float
    attention_dropout: float
    seq_classif_dropout: float
    max_position_embeddings: int
    initializer_range: float
    pad_token_id: int
    labels: List[str]
    # A base model's config.json, written back with the new labels, so keys transformers wrote stay as they were.
    inherited: Dict[str, object]

    @property
    def usable_positions(self) -> int:
        return self.max_position_embeddings

    def to_hf(self) -> Dict[str, object]:
        """The `config.json` Hugging Face transformers reads for this model."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("labels", "inherited")}
        return {
            "qa_dropout": 0.1,
            "sinusoidal_pos_embds": False,
            "tie_weights_": True,
            **self.inherited,
            "architectures": ["DistilBertForSequenceClassification"],
            "model_type": "distilbert",
            "problem_type": "single_label_classification",
            "torch_dtype": "float32",
            **hf_labels(self.labels),
            **own,
        }

    @staticmethod
    def from_hf(hf: Dict[str, object], labels: List[str]) -> "DistilBertConfig":
        """A base model's own config; `labels` are the new task's (the head is trained afresh if they differ)."""
        if hf.get("model_type") != "distilbert":
            raise ValueError(f"base model_type is {hf.get('model_type')!r}, not 'distilbert'")
        if hf.get("sinusoidal_pos_embds"):
            raise ValueError("base models with sinusoidal position embeddings are not supported")
        known = [f.name for f in fields(DistilBertConfig) if f.name not in ("labels", "inherited")]
        missing = [k for k in known if k not in hf]
        if missing:
            raise ValueError(f"base config.json lacks {', '.join(missing)}")
        return DistilBertConfig(**{k: hf[k] for k in known}, labels=labels, inherited=dict(hf))


class Embeddings(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.dim, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.dim)
        self.LayerNorm = nn.LayerNorm(c.dim, eps=1e-12)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.q_lin = nn.Linear(c.dim, c.dim)
        self.k_lin = nn.Linear(c.dim, c.dim)
        self.v_lin = nn.Linear(c.dim, c.dim)
        self.out_lin = nn.Linear(c.dim, c.dim)
        self.attend = Attention(c.dim, c.n_heads, c.attention_dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.out_lin(self.attend(self.q_lin(x), self.k_lin(x), self.v_lin(x), bias))


class FFN(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.lin1 = nn.Linear(c.dim, c.hidden_dim)
        self.lin2 = nn.Linear(c.hidden_dim, c.dim)
        self.dropout = nn.Dropout(c.dropout)
        self.activation = activation(c.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.lin2(self.activation(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.sa_layer_norm(self.attention(x, bias) + x)
        return self.output_layer_norm(self.ffn(x) + x)


class Transformer(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.layer = nn.ModuleList(TransformerBlock(c) for _ in range(c.n_layers))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for block in self.layer:
            x = block(x, bias)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.transformer = Transformer(c)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(input_ids)
        return self.transformer(x, mask_bias(attention_mask, x.dtype))


class DistilBertForSequenceClassification(nn.Module):
    # What the ONNX export takes: DistilBERT has no segment embeddings.
    onnx_inputs: Tuple[str, ...] = ("input_ids", "attention_mask")

    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.config = c
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c.dim, c.dim)
        self.classifier = nn.Linear(c.dim, len(c.labels))
        self.dropout = nn.Dropout(c.seq_classif_dropout)
        self.apply(lambda module: init_weights(module, c.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.distilbert(input_ids, attention_mask)
        pooled = F.relu(self.pre_classifier(hidden[:, 0]))
        return self.classifier(self.dropout(pooled))

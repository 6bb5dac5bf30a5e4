"""A DistilBERT sequence classifier whose parameter names and config match Hugging Face's
`DistilBertForSequenceClassification`, so checkpoints load both ways without conversion."""
import math
from dataclasses import asdict, dataclass, fields
from typing import Dict, List

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(kw_only=True)
class DistilBertConfig:
    # No defaults: they would be a second source of training settings. Every value comes from the job
    # file (train.fresh_config) or a base model's config.json (from_hf).
    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    hidden_dim: int
    dropout: float
    attention_dropout: float
    seq_classif_dropout: float
    max_position_embeddings: int
    initializer_range: float
    pad_token_id: int
    labels: List[str]

    def to_hf(self) -> Dict[str, object]:
        """The `config.json` Hugging Face transformers reads for this model."""
        values = asdict(self)
        labels = values.pop("labels")
        return {
            "architectures": ["DistilBertForSequenceClassification"],
            "model_type": "distilbert",
            "activation": "gelu",
            "qa_dropout": 0.1,
            "sinusoidal_pos_embds": False,
            "tie_weights_": True,
            "problem_type": "single_label_classification",
            "torch_dtype": "float32",
            "id2label": {str(i): label for i, label in enumerate(labels)},
            "label2id": {label: i for i, label in enumerate(labels)},
            **values,
        }

    @staticmethod
    def from_hf(hf: Dict[str, object], labels: List[str]) -> "DistilBertConfig":
        """A base model's own config; `labels` are the new task's (the head is trained afresh if they differ)."""
        if hf.get("model_type") != "distilbert":
            raise ValueError(f"base model_type is {hf.get('model_type')!r}; only 'distilbert' is supported")
        if hf.get("sinusoidal_pos_embds"):
            raise ValueError("base models with sinusoidal position embeddings are not supported")
        known = [f.name for f in fields(DistilBertConfig) if f.name != "labels"]
        missing = [k for k in known if k not in hf]
        if missing:
            raise ValueError(f"base config.json lacks {', '.join(missing)}")
        return DistilBertConfig(**{k: hf[k] for k in known}, labels=labels)


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
        if c.dim % c.n_heads:
            raise ValueError(f"dim {c.dim} is not divisible by n_heads {c.n_heads}")
        self.n_heads = c.n_heads
        # Fixed at build time so the ONNX trace keeps the scale a constant, not a traced shape.
        self.scale = 1.0 / math.sqrt(c.dim // c.n_heads)
        self.q_lin = nn.Linear(c.dim, c.dim)
        self.k_lin = nn.Linear(c.dim, c.dim)
        self.v_lin = nn.Linear(c.dim, c.dim)
        self.out_lin = nn.Linear(c.dim, c.dim)
        # Dropout on the [batch, heads, seq, seq] matrix slows a CPU step markedly (docs/benchmarks.md): skipped at 0.
        self.attention_dropout = nn.Dropout(c.attention_dropout) if c.attention_dropout > 0 else None

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        bs, seq, dim = x.shape
        head = dim // self.n_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(bs, seq, self.n_heads, head).transpose(1, 2)

        q = split(self.q_lin(x)) * self.scale
        k = split(self.k_lin(x))
        v = split(self.v_lin(x))
        weights = torch.softmax(q @ k.transpose(2, 3) + mask_bias, dim=-1)
        if self.attention_dropout is not None:
            weights = self.attention_dropout(weights)
        context = (weights @ v).transpose(1, 2).reshape(bs, seq, dim)
        return self.out_lin(context)


class FFN(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.lin1 = nn.Linear(c.dim, c.hidden_dim)
        self.lin2 = nn.Linear(c.hidden_dim, c.dim)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.lin2(F.gelu(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        x = self.sa_layer_norm(self.attention(x, mask_bias) + x)
        return self.output_layer_norm(self.ffn(x) + x)


class Transformer(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.layer = nn.ModuleList(TransformerBlock(c) for _ in range(c.n_layers))

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        for block in self.layer:
            x = block(x, mask_bias)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.transformer = Transformer(c)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(input_ids)
        # Additive mask: padded keys get a large negative score (finite, so fp16 and ONNX stay NaN-free).
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        return self.transformer(x, mask_bias)


class DistilBertForSequenceClassification(nn.Module):
    def __init__(self, c: DistilBertConfig):
        super().__init__()
        self.config = c
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c.dim, c.dim)
        self.classifier = nn.Linear(c.dim, len(c.labels))
        self.dropout = nn.Dropout(c.seq_classif_dropout)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
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

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.distilbert(input_ids, attention_mask)
        pooled = F.relu(self.pre_classifier(hidden[:, 0]))
        return self.classifier(self.dropout(pooled))


def load_base_weights(model: DistilBertForSequenceClassification, state: Dict[str, torch.Tensor]) -> List[str]:
    """Loads a Hugging Face DistilBERT checkpoint (with or without a classification head, with or
    without the `distilbert.` prefix). Returns the names left at their fresh initialisation."""
    own = model.state_dict()
    prefixed = {k if k.startswith(("distilbert.", "pre_classifier.", "classifier.")) else f"distilbert.{k}": v
                for k, v in state.items()}
    usable = {k: v for k, v in prefixed.items() if k in own and own[k].shape == v.shape}
    missing_core = [k for k in own if k.startswith("distilbert.") and k not in usable]
    if missing_core:
        raise ValueError(f"base checkpoint does not fit the config: {len(missing_core)} encoder tensors "
                         f"missing or misshapen, e.g. {missing_core[:3]}")
    model.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable)

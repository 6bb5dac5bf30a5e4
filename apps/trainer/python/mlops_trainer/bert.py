"""BERT and RoBERTa sequence classifiers whose parameter names and config match Hugging Face's
`BertForSequenceClassification` and `RobertaForSequenceClassification` (MiniLM and TinyBERT are BERTs).

The two share the encoder; RoBERTa differs in its position ids (counted from padding_idx + 1, skipping
padding), its single token type, and its head (dense + tanh + out_proj on <s>, no pooler).
"""
from dataclasses import dataclass, fields
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .layers import Attention, activation, hf_labels, init_weights, mask_bias

ARCHITECTURES = {"bert": "BertForSequenceClassification", "roberta": "RobertaForSequenceClassification"}


@dataclass(kw_only=True)
class BertConfig:
    """A base checkpoint's config.json (there is no BERT from scratch): every field is read from it."""
    model_type: str
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    hidden_act: str
    hidden_dropout_prob: float
    attention_probs_dropout_prob: float
    max_position_embeddings: int
    type_vocab_size: int
    initializer_range: float
    layer_norm_eps: float
    pad_token_id: int
    # None means hidden_dropout_prob, as in transformers; configs older than the key leave it out.
    classifier_dropout: Optional[float]
    labels: List[str]
    inherited: Dict[str, object]

    @property
    def usable_positions(self) -> int:
        """Tokens per text the position table holds: RoBERTa's first padding_idx + 1 rows are never used."""
        return self.max_position_embeddings - (self.pad_token_id + 1 if self.model_type == "roberta" else 0)

    def to_hf(self) -> Dict[str, object]:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("labels", "inherited")}
        return {**self.inherited, **own, "architectures": [ARCHITECTURES[self.model_type]],
                "problem_type": "single_label_classification", "torch_dtype": "float32", **hf_labels(self.labels)}

    @staticmethod
    def from_hf(hf: Dict[str, object], labels: List[str]) -> "BertConfig":
        model_type = hf.get("model_type")
        if model_type not in ARCHITECTURES:
            raise ValueError(f"base model_type is {model_type!r}, not one of {', '.join(ARCHITECTURES)}")
        position_type = hf.get("position_embedding_type", "absolute")  # the only kind before the key existed
        if position_type != "absolute":
            raise ValueError(f"position_embedding_type {position_type!r} is not supported, only 'absolute'")
        if hf.get("is_decoder") or hf.get("add_cross_attention"):
            raise ValueError("decoder checkpoints are not supported: the classifier is an encoder")
        optional = {"classifier_dropout"}
        known = [f.name for f in fields(BertConfig) if f.name not in ("labels", "inherited")]
        missing = [k for k in known if k not in hf and k not in optional]
        if missing:
            raise ValueError(f"base config.json lacks {', '.join(missing)}")
        values = {k: hf.get(k) for k in known}
        return BertConfig(**values, labels=labels, inherited=dict(hf))


class BertEmbeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.roberta_positions = c.model_type == "roberta"
        self.padding_idx = c.pad_token_id
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size,
                                                padding_idx=c.pad_token_id if self.roberta_positions else None)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: Optional[torch.Tensor]) -> torch.Tensor:
        if self.roberta_positions:
            # transformers' create_position_ids_from_input_ids: real tokens count up from padding_idx + 1.
            real = input_ids.ne(self.padding_idx).long()
            positions = torch.cumsum(real, dim=1) * real + self.padding_idx
        else:
            positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        # Without segment ids every token is of type 0, as transformers does.
        types = self.token_type_embeddings.weight[0] if token_type_ids is None else self.token_type_embeddings(token_type_ids)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + types
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.attend = Attention(c.hidden_size, c.num_attention_heads, c.attention_probs_dropout_prob)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.attend(self.query(x), self.key(x), self.value(x), bias)


class BertResidualOutput(nn.Module):
    """transformers' BertSelfOutput and BertOutput: dense, dropout, LayerNorm over the residual."""

    def __init__(self, c: BertConfig, width: int):
        super().__init__()
        self.dense = nn.Linear(width, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertResidualOutput(c, c.hidden_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.activation = activation(c.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertResidualOutput(c, c.intermediate_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c.num_hidden_layers))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, bias)
        return x


class BertPooler(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    """Embeddings and encoder; the pooler only where the classifier reads it (BERT, not RoBERTa)."""

    def __init__(self, c: BertConfig, pooler: bool):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if pooler else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: Optional[torch.Tensor]) -> torch.Tensor:
        x = self.embeddings(input_ids, token_type_ids)
        return self.encoder(x, mask_bias(attention_mask, x.dtype))


def _classifier_dropout(c: BertConfig) -> float:
    return c.hidden_dropout_prob if c.classifier_dropout is None else c.classifier_dropout


class BertForSequenceClassification(nn.Module):
    onnx_inputs: Tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.bert = BertModel(c, pooler=True)
        self.dropout = nn.Dropout(_classifier_dropout(c))
        self.classifier = nn.Linear(c.hidden_size, len(c.labels))
        self.apply(lambda module: init_weights(module, c.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        assert self.bert.pooler is not None
        return self.classifier(self.dropout(self.bert.pooler(hidden)))


class RobertaClassificationHead(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(_classifier_dropout(c))
        self.out_proj = nn.Linear(c.hidden_size, len(c.labels))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(hidden[:, 0])))
        return self.out_proj(self.dropout(x))


class RobertaForSequenceClassification(nn.Module):
    # One token type: optimum's RoBERTa exports take no token_type_ids either.
    onnx_inputs: Tuple[str, ...] = ("input_ids", "attention_mask")

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.roberta = BertModel(c, pooler=False)
        self.classifier = RobertaClassificationHead(c)
        self.apply(lambda module: init_weights(module, c.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.roberta(input_ids, attention_mask, None))

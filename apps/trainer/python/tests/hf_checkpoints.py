"""Tiny Hugging Face checkpoint folders with transformers' own parameter names and config keys, written
from tables here (not from the trainer's model code, so a naming slip there cannot hide), random weights.

Also a command for the TypeScript tests:
  python3 tests/hf_checkpoints.py OUT --model-type bert --vocab-size 300 --head none|N [--labels a,b] [--format bin|safetensors|sharded]
"""
import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from mlops_trainer.safetensors import write_safetensors  # noqa: E402

HIDDEN, LAYERS, HEADS, INTERMEDIATE, TYPES = 32, 2, 2, 64, 2
Shapes = Dict[str, Tuple[int, ...]]


def _layer_norm(prefix: str) -> Shapes:
    return {f"{prefix}.weight": (HIDDEN,), f"{prefix}.bias": (HIDDEN,)}


def _linear(prefix: str, rows: int, cols: int) -> Shapes:
    return {f"{prefix}.weight": (rows, cols), f"{prefix}.bias": (rows,)}


def bert_encoder(prefix: str, vocab: int, positions: int, types: int) -> Shapes:
    """transformers' BertModel / RobertaModel embeddings and encoder (no pooler)."""
    shapes: Shapes = {f"{prefix}.embeddings.word_embeddings.weight": (vocab, HIDDEN),
                      f"{prefix}.embeddings.position_embeddings.weight": (positions, HIDDEN),
                      f"{prefix}.embeddings.token_type_embeddings.weight": (types, HIDDEN),
                      **_layer_norm(f"{prefix}.embeddings.LayerNorm")}
    for i in range(LAYERS):
        layer = f"{prefix}.encoder.layer.{i}"
        for part in ("query", "key", "value"):
            shapes.update(_linear(f"{layer}.attention.self.{part}", HIDDEN, HIDDEN))
        shapes.update(_linear(f"{layer}.attention.output.dense", HIDDEN, HIDDEN))
        shapes.update(_layer_norm(f"{layer}.attention.output.LayerNorm"))
        shapes.update(_linear(f"{layer}.intermediate.dense", INTERMEDIATE, HIDDEN))
        shapes.update(_linear(f"{layer}.output.dense", HIDDEN, INTERMEDIATE))
        shapes.update(_layer_norm(f"{layer}.output.LayerNorm"))
    return shapes


def distilbert_encoder(vocab: int, positions: int) -> Shapes:
    shapes: Shapes = {"distilbert.embeddings.word_embeddings.weight": (vocab, HIDDEN),
                      "distilbert.embeddings.position_embeddings.weight": (positions, HIDDEN),
                      **_layer_norm("distilbert.embeddings.LayerNorm")}
    for i in range(LAYERS):
        layer = f"distilbert.transformer.layer.{i}"
        for part in ("q_lin", "k_lin", "v_lin", "out_lin"):
            shapes.update(_linear(f"{layer}.attention.{part}", HIDDEN, HIDDEN))
        shapes.update(_layer_norm(f"{layer}.sa_layer_norm"))
        shapes.update(_linear(f"{layer}.ffn.lin1", INTERMEDIATE, HIDDEN))
        shapes.update(_linear(f"{layer}.ffn.lin2", HIDDEN, INTERMEDIATE))
        shapes.update(_layer_norm(f"{layer}.output_layer_norm"))
    return shapes


def classifier_names(model_type: str, vocab: int, positions: int, labels: int) -> Shapes:
    """Every weight of transformers' <Type>ForSequenceClassification."""
    if model_type == "bert":
        return {**bert_encoder("bert", vocab, positions, TYPES), **_linear("bert.pooler.dense", HIDDEN, HIDDEN),
                **_linear("classifier", labels, HIDDEN)}
    if model_type == "roberta":
        return {**bert_encoder("roberta", vocab, positions, 1), **_linear("classifier.dense", HIDDEN, HIDDEN),
                **_linear("classifier.out_proj", labels, HIDDEN)}
    return {**distilbert_encoder(vocab, positions), **_linear("pre_classifier", HIDDEN, HIDDEN),
            **_linear("classifier", labels, HIDDEN)}


def config(model_type: str, vocab: int, positions: int, labels: Optional[List[str]]) -> Dict[str, object]:
    """config.json as transformers writes it for these shapes."""
    if model_type == "distilbert":
        hf: Dict[str, object] = {
            "activation": "gelu", "architectures": ["DistilBertForMaskedLM"], "attention_dropout": 0.1, "dim": HIDDEN,
            "dropout": 0.1, "hidden_dim": INTERMEDIATE, "initializer_range": 0.02, "max_position_embeddings": positions,
            "model_type": "distilbert", "n_heads": HEADS, "n_layers": LAYERS, "pad_token_id": 0, "qa_dropout": 0.1,
            "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True,
            "transformers_version": "4.44.2", "vocab_size": vocab}
    else:
        roberta = model_type == "roberta"
        hf = {
            "architectures": ["RobertaForMaskedLM" if roberta else "BertModel"], "attention_probs_dropout_prob": 0.1,
            "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": HIDDEN,
            "initializer_range": 0.02, "intermediate_size": INTERMEDIATE, "layer_norm_eps": 1e-12 if not roberta else 1e-5,
            "max_position_embeddings": positions, "model_type": model_type, "num_attention_heads": HEADS,
            "num_hidden_layers": LAYERS, "pad_token_id": 1 if roberta else 0, "position_embedding_type": "absolute",
            "torch_dtype": "float32", "transformers_version": "4.44.2", "type_vocab_size": 1 if roberta else TYPES,
            "use_cache": True, "vocab_size": vocab, **({"bos_token_id": 0, "eos_token_id": 2} if roberta else {})}
    if labels is not None:
        hf["id2label"] = {str(i): label for i, label in enumerate(labels)}
        hf["label2id"] = {label: i for i, label in enumerate(labels)}
    return hf


def random_weights(shapes: Shapes, seed: int) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in shapes.items():
        if "LayerNorm" in name or "layer_norm" in name:
            weights[name] = np.full(shape, 1.0 if name.endswith("weight") else 0.0, dtype=np.float32)
        else:
            weights[name] = rng.normal(0.0, 0.02, size=shape).astype(np.float32)
    return weights


def write_checkpoint(out: str, model_type: str, vocab: int, positions: int, head: Optional[int],
                     labels: Optional[List[str]] = None, weights_format: str = "bin", seed: int = 0,
                     headless_names: str = "model") -> Dict[str, np.ndarray]:
    """A checkpoint folder. Without a head: BERT as a bare BertModel (no prefix, with pooler) when
    `headless_names` is "model", or BertForMaskedLM-style (bert.* without pooler, plus cls.*) when "mlm"."""
    shapes = classifier_names(model_type, vocab, positions, head or 2)
    if head is None:
        shapes = {k: v for k, v in shapes.items() if not k.startswith(("classifier", "pre_classifier"))}
        if model_type == "bert" and headless_names == "model":
            shapes = {k[len("bert."):]: v for k, v in shapes.items()}
        elif model_type == "bert":
            shapes = {k: v for k, v in shapes.items() if not k.startswith("bert.pooler")}
            shapes.update(_linear("cls.predictions.transform.dense", HIDDEN, HIDDEN))
            shapes["cls.predictions.bias"] = (vocab,)
        elif model_type == "roberta":
            shapes.update(_linear("lm_head.dense", HIDDEN, HIDDEN))
            shapes["lm_head.bias"] = (vocab,)
    if labels is None and head is not None:
        labels = [f"LABEL_{i}" for i in range(head)]
    weights = random_weights(shapes, seed)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config(model_type, vocab, positions, labels if head else None), f, indent=2)
    if weights_format == "safetensors":
        write_safetensors(os.path.join(out, "model.safetensors"), weights, metadata={"format": "pt"})
    elif weights_format == "sharded":
        names = list(weights)
        halves = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
                  "model-00002-of-00002.safetensors": names[len(names) // 2:]}
        for file, part in halves.items():
            write_safetensors(os.path.join(out, file), {k: weights[k] for k in part}, metadata={"format": "pt"})
        index = {"metadata": {"total_size": sum(w.nbytes for w in weights.values())},
                 "weight_map": {k: file for file, part in halves.items() for k in part}}
        with open(os.path.join(out, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
            json.dump(index, f)
    else:
        import torch
        torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, os.path.join(out, "pytorch_model.bin"))
    return weights


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--model-type", required=True, choices=["bert", "roberta", "distilbert"])
    parser.add_argument("--vocab-size", type=int, required=True)
    parser.add_argument("--positions", type=int, required=True)
    parser.add_argument("--head", required=True, help="none, or the head's label count")
    parser.add_argument("--labels", help="comma-separated id2label of the head")
    parser.add_argument("--format", default="bin", choices=["bin", "safetensors", "sharded"])
    args = parser.parse_args()
    write_checkpoint(args.out, args.model_type, args.vocab_size, args.positions,
                     None if args.head == "none" else int(args.head),
                     args.labels.split(",") if args.labels else None, args.format)


if __name__ == "__main__":
    main()

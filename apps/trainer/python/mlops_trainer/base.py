"""Fine-tuning from a Hugging Face checkpoint folder: its config.json picks the architecture, its
weights load by transformers' names, and the classification head is kept only where it fits the task."""
import json
import os
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch

from .bert import BertConfig, BertForSequenceClassification, RobertaForSequenceClassification
from .checkpoint import read_checkpoint
from .job import TrainingError
from .model import DistilBertConfig, DistilBertForSequenceClassification

Classifier = Union[DistilBertForSequenceClassification, BertForSequenceClassification, RobertaForSequenceClassification]


@dataclass(frozen=True)
class Architecture:
    build: Callable[[Dict[str, object], List[str]], Classifier]
    prefix: str  # the encoder's name in the classifier (transformers' base_model_prefix)
    output_layer: str  # the head's last layer: one row per label
    # Outside the encoder, or absent from some checkpoints (an MLM BERT has no pooler): these may start fresh.
    may_be_new: Tuple[str, ...]


ARCHITECTURES: Dict[str, Architecture] = {
    "distilbert": Architecture(lambda hf, labels: DistilBertForSequenceClassification(DistilBertConfig.from_hf(hf, labels)),
                               "distilbert", "classifier", ("pre_classifier.", "classifier.")),
    "bert": Architecture(lambda hf, labels: BertForSequenceClassification(BertConfig.from_hf(hf, labels)),
                         "bert", "classifier", ("bert.pooler.", "classifier.")),
    "roberta": Architecture(lambda hf, labels: RobertaForSequenceClassification(BertConfig.from_hf(hf, labels)),
                            "roberta", "classifier.out_proj", ("classifier.",)),
}

# Buffers some transformers versions save beside the weights; they are recomputed here.
_BUFFERS = re.compile(r"(^|\.)embeddings\.(position_ids|token_type_ids)$")


@dataclass
class BaseModel:
    model: Classifier
    labels: List[str]  # the model's label order: the base head's when it is kept
    model_type: str
    files: List[str]
    new: List[str]  # weights not in the checkpoint (or not fitting the task), freshly initialised
    unused: List[str]  # checkpoint weights the classifier has no place for (an MLM head, RoBERTa's pooler)
    head: str  # why the head is kept or new, for the event


def _head_labels(hf: Dict[str, object], rows: int) -> Optional[List[str]]:
    """The base head's labels in id order, when its config names one per output row."""
    id2label = hf.get("id2label")
    if not isinstance(id2label, dict) or len(id2label) != rows:
        return None
    try:
        ordered = sorted(id2label.items(), key=lambda item: int(item[0]))
    except ValueError:
        return None
    if [int(k) for k, _ in ordered] != list(range(rows)):
        return None
    return [str(v) for _, v in ordered]


def _transformers_names(state: Dict[str, torch.Tensor], own: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    """Checkpoint names as the classifier's: LayerNorm gamma/beta of old conversions are weight/bias, and a
    bare encoder's names (a saved BertModel) take the prefix, as transformers' loader does."""
    renamed: Dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if _BUFFERS.search(name):
            continue
        name = re.sub(r"(LayerNorm|layer_norm)\.gamma$", r"\1.weight", name)
        name = re.sub(r"(LayerNorm|layer_norm)\.beta$", r"\1.bias", name)
        if name not in own and f"{prefix}.{name}" in own:
            name = f"{prefix}.{name}"
        renamed[name] = tensor
    return renamed


def load_base_weights(model: Classifier, arch: Architecture, state: Dict[str, torch.Tensor],
                      keep_output_layer: bool) -> Tuple[List[str], List[str]]:
    """Loads what fits; returns (new, unused) names. An encoder weight missing or misshapen is an error:
    the config.json then does not describe these weights."""
    own = model.state_dict()
    named = _transformers_names(state, own, arch.prefix)
    output = (f"{arch.output_layer}.weight", f"{arch.output_layer}.bias")
    usable = {k: v for k, v in named.items() if k in own and own[k].shape == v.shape and (keep_output_layer or k not in output)}
    broken = [k for k in own if k not in usable and not k.startswith(arch.may_be_new)]
    if broken:
        shapes = [f"{k} {tuple(named[k].shape)} for {tuple(own[k].shape)}" if k in named else f"{k} missing" for k in broken[:3]]
        raise TrainingError(f"base checkpoint does not fit its config.json: {len(broken)} encoder tensors missing or "
                            f"misshapen, e.g. {'; '.join(shapes)}")
    model.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable), sorted(k for k in named if k not in usable and k not in output)


def load_base(folder: str, task_labels: List[str]) -> BaseModel:
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            hf = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise TrainingError(f"cannot read the base folder's config.json: {error}") from error
    model_type = hf.get("model_type") if isinstance(hf, dict) else None
    if model_type not in ARCHITECTURES:
        raise TrainingError(f"base model_type is {model_type!r}; supported: {', '.join(ARCHITECTURES)}")
    arch = ARCHITECTURES[model_type]
    checkpoint = read_checkpoint(folder)
    # The head keeps its name whatever the encoder's prefix: no renaming needed to find it.
    head_weight = checkpoint.tensors.get(f"{arch.output_layer}.weight")
    base_labels = None if head_weight is None else _head_labels(hf, head_weight.shape[0])
    if head_weight is None:
        keep, labels, head = False, task_labels, "none in the checkpoint: a new one"
    elif base_labels is not None and sorted(base_labels) == sorted(task_labels):
        keep, labels, head = True, base_labels, "kept, with its label order"
    elif head_weight.shape[0] != len(task_labels):
        keep, labels, head = False, task_labels, f"for {head_weight.shape[0]} labels: a new one for {len(task_labels)}"
    else:
        keep, labels, head = False, task_labels, f"labels {base_labels or 'unnamed'} are not the task's: a new one"
    try:
        model = arch.build(hf, labels)
    except (ValueError, TypeError) as error:
        raise TrainingError(str(error)) from error
    new, unused = load_base_weights(model, arch, checkpoint.tensors, keep)
    return BaseModel(model=model, labels=labels, model_type=model_type, files=checkpoint.files, new=new, unused=unused,
                     head=head)

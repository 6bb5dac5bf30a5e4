"""Reads a Hugging Face checkpoint's weights: model.safetensors, pytorch_model.bin, or their sharded indexes."""
import json
import os
from dataclasses import dataclass
from typing import Callable, Dict, List

import torch

from .job import TrainingError
from .safetensors import SafetensorsError, read_safetensors

# The order transformers looks for them in.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass
class Checkpoint:
    tensors: Dict[str, torch.Tensor]
    files: List[str]  # the weight files read, relative to the folder


def _read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    try:
        arrays = read_safetensors(path)
    except SafetensorsError as error:
        raise TrainingError(str(error)) from error
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def _read_bin(path: str) -> Dict[str, torch.Tensor]:
    try:
        # weights_only: a checkpoint from elsewhere must not run code while it loads.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for a truncated or foreign file
        raise TrainingError(f"{os.path.basename(path)} is not a readable PyTorch checkpoint: {error}") from error
    if not isinstance(state, dict):
        raise TrainingError(f"{os.path.basename(path)} holds a {type(state).__name__}, not a state dict")
    return state


def _read_sharded(folder: str, index_name: str, read: Callable[[str], Dict[str, torch.Tensor]]) -> Checkpoint:
    with open(os.path.join(folder, index_name), encoding="utf-8") as f:
        index = json.load(f)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise TrainingError(f"{index_name} has no weight_map")
    files = sorted(set(weight_map.values()))
    tensors: Dict[str, torch.Tensor] = {}
    for name in files:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            raise TrainingError(f"{index_name} names {name}, which is not in the base folder")
        tensors.update(read(path))
    missing = sorted(k for k in weight_map if k not in tensors)
    if missing:
        raise TrainingError(f"{index_name} maps {len(missing)} tensors to shards that lack them, e.g. {missing[:3]}")
    return Checkpoint(tensors, files)


def read_checkpoint(folder: str) -> Checkpoint:
    """The first weight file present, in transformers' order of preference, as float32 tensors."""
    for name in WEIGHT_FILES:
        if not os.path.exists(os.path.join(folder, name)):
            continue
        read = _read_safetensors if "safetensors" in name else _read_bin
        checkpoint = _read_sharded(folder, name, read) if name.endswith(".index.json") else Checkpoint(read(os.path.join(folder, name)), [name])
        # Half-precision checkpoints train in float32; integer buffers (position ids) stay as they are.
        checkpoint.tensors = {k: v.float() if v.is_floating_point() else v for k, v in checkpoint.tensors.items()}
        return checkpoint
    raise TrainingError(f"base folder {folder} has no weights: looked for {', '.join(WEIGHT_FILES)}")

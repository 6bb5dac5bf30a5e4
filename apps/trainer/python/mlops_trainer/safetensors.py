"""The safetensors format with numpy alone (the `safetensors` package is not a dependency).

A file is: an unsigned little-endian 64-bit header length, a JSON header mapping each tensor name to
its dtype, shape and [begin, end) byte offsets into the data that follows, then the raw tensors.
"""
import json
import os
import struct
from typing import Collection, Dict, Mapping

import numpy as np

# Little-endian numpy dtypes per safetensors dtype; BF16 has none, so it is read as uint16 and widened.
_DTYPES: Dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {np.dtype(v).newbyteorder("<"): k for k, v in _DTYPES.items() if k != "BF16"}
# A header larger than this is not a real checkpoint's (the reference implementation caps it at 100 MB).
_MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    """A file that is not a readable safetensors file: truncated, or with a broken header."""


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """BF16 is the top half of a float32: shift the 16 bits back up."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def float32_to_bfloat16(values: np.ndarray) -> np.ndarray:
    """Rounds to the nearest BF16 (ties to even), as uint16 bits."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
    """Every tensor of a .safetensors file, BF16 widened to float32, other dtypes as stored."""
    name = os.path.basename(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise SafetensorsError(f"{name} is truncated: {size} bytes, too short for the header length")
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > min(_MAX_HEADER, size - 8):
            raise SafetensorsError(f"{name} is truncated or corrupt: header of {header_length} bytes in a file of {size}")
        try:
            header = json.loads(f.read(header_length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SafetensorsError(f"{name} has a corrupt header: {error}") from error
    if not isinstance(header, dict):
        raise SafetensorsError(f"{name} has a corrupt header: not a JSON object")
    data_start = 8 + header_length
    data_size = size - data_start
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=data_start, shape=(data_size,)) if data_size else np.zeros(0, np.uint8)
    tensors: Dict[str, np.ndarray] = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = _DTYPES[entry["dtype"]]
            shape = [int(d) for d in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as error:
            raise SafetensorsError(f"{name}: tensor {key!r} has a corrupt header entry {entry!r}") from error
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * dtype.itemsize or begin < 0:
            raise SafetensorsError(f"{name}: tensor {key!r} spans bytes {begin}..{end}, but {entry['dtype']}{shape} "
                                   f"takes {count * dtype.itemsize}")
        if end > data_size:
            raise SafetensorsError(f"{name} is truncated: tensor {key!r} needs bytes {begin}..{end} of the data, "
                                   f"the file holds {data_size}")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        tensors[key] = bfloat16_to_float32(array) if entry["dtype"] == "BF16" else array.copy()
    return tensors


def write_safetensors(path: str, tensors: Mapping[str, np.ndarray], bfloat16: Collection[str] = (),
                      metadata: Mapping[str, str] = ()) -> None:
    """Writes tensors in the safetensors layout; names in `bfloat16` (float arrays) are stored as BF16."""
    header: Dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for key, array in tensors.items():
        if key in bfloat16:
            dtype, blob = "BF16", float32_to_bfloat16(array).tobytes()
        else:
            little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            if little.dtype not in _NAMES:
                raise SafetensorsError(f"tensor {key!r}: dtype {array.dtype} has no safetensors name")
            dtype, blob = _NAMES[little.dtype], little.tobytes()
        header[key] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as the reference writer keeps it
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)

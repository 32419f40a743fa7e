#!/usr/bin/env python3
"""make_safetensors_fixture.py - writes a small safetensors file the way
Python's `safetensors` library lays it out, for cross-checking cl16's reader
(src/io/safetensors.c) by hand. The C unit test builds its own bytes and does
not need this script or Python.

Usage:  scripts/make_safetensors_fixture.py OUT.safetensors [--lib]

The file holds F32 [2,3], F16 [4], BF16 [] (0-d), I64 [3] and an empty F32
[0,5] tensor plus {"format": "pt"} metadata. Layout rules followed (as the
Rust writer behind `safetensors.numpy.save_file` does): "__metadata__" first,
tensors ordered by dtype alignment (largest first) then name, offsets
contiguous from 0, compact JSON, header padded with spaces to a multiple of 8.

Needs numpy. With --lib and the `safetensors` package installed, the file is
written by the library instead (same content), and in both cases it is read
back with the library when that is installed.
"""
import json
import struct
import sys

import numpy as np


def tensors():
    f32 = np.array([[1.0, -2.5, 3.25], [0.0, -0.0, 65504.0]], dtype=np.float32)
    f16 = np.array([1.0, 0.000061035156, -2.0, 6.0e-8], dtype=np.float16)
    # bfloat16 is not a numpy dtype: round float32 bits to nearest even by hand.
    bits = np.array([3.140625], dtype=np.float32).view(np.uint32).astype(np.uint64)
    bf16 = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).reshape(())
    i64 = np.array([0, -1, 2**62], dtype=np.int64)
    empty = np.zeros((0, 5), dtype=np.float32)
    return {
        "weight": ("F32", f32),
        "half": ("F16", f16),
        "scalar": ("BF16", bf16),
        "steps": ("I64", i64),
        "empty": ("F32", empty),
    }


SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def write_by_hand(path):
    items = sorted(tensors().items(), key=lambda kv: (-SIZE[kv[1][0]], kv[0]))
    header = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, (dtype, arr) in items:
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(arr.shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def write_with_library(path):
    from safetensors.numpy import save_file

    # The library has no bfloat16 numpy type either; skip that tensor there.
    arrays = {k: v for k, (d, v) in tensors().items() if d != "BF16"}
    save_file(arrays, path, metadata={"format": "pt"})


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    if "--lib" in sys.argv[2:]:
        write_with_library(path)
    else:
        write_by_hand(path)
    try:
        from safetensors import safe_open
    except ImportError:
        print("wrote", path)
        return
    with safe_open(path, framework="numpy") as f:
        print("wrote", path, "- read back by safetensors:", sorted(f.keys()))


if __name__ == "__main__":
    main()

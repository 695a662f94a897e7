"""Random identifiers drawn from the seeded generator (never uuid4), built as Arrow strings in bulk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def fixed_width_strings(chars: np.ndarray) -> pa.StringArray:
    """An (n, width) uint8 array of ASCII characters as n Arrow strings, without Python objects."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64 if n * width >= 2**31 else np.int32)
    string_type = pa.large_string() if offsets.dtype == np.int64 else pa.string()
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(string_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def hex_ids(rng: np.random.Generator, n: int, *, nbytes: int = 16, uuid: bool = False) -> pa.StringArray:
    """n random lower-case hex ids of nbytes random bytes; with uuid=True formatted like a UUID v4."""
    raw = rng.integers(0, 256, size=(n, 16 if uuid else nbytes), dtype=np.uint8)
    if uuid:
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = np.empty((n, raw.shape[1] * 2), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    if uuid:
        hexed = np.insert(hexed, [8, 12, 16, 20], ord("-"), axis=1)
    return fixed_width_strings(hexed)

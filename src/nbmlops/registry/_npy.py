"""Arrays of a skops file read straight from numpy's ``.npy`` bytes.

skops builds each array with ``np.load``, which parses every header with
``ast.literal_eval``: for the 1,500 arrays of a 300-tree forest that is 84 ms of a ~300 ms load.
The header numpy writes has one fixed form, so it is matched here and each distinct ``descr``
parsed once; the data are copied out as ``np.load`` would (a writable array owning its
memory). Anything else (another header version or form, object arrays, short data) goes to
``np.load``, which accepts or refuses it as before.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from typing import Any

import numpy as np

_MAGIC = b"\x93NUMPY\x01\x00"  # format version 1.0: a 2-byte header length
_HEADER = re.compile(
    rb"\{'descr': (.+), 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), \} *\n"
)


@functools.lru_cache(maxsize=256)
def _dtype(descr: bytes) -> np.dtype | None:
    try:
        dtype = np.lib.format.descr_to_dtype(ast.literal_eval(descr.decode("latin-1")))
    except (ValueError, TypeError, SyntaxError):
        return None
    return None if dtype.hasobject else dtype


def read_npy(data: Any) -> np.ndarray | None:
    """The array in ``.npy`` bytes ``data``, or None when only ``np.load`` should read them.

    >>> import io
    >>> buffer = io.BytesIO(); np.save(buffer, np.arange(3)); read_npy(buffer.getvalue())
    array([0, 1, 2])
    """
    view = memoryview(data)
    if bytes(view[:8]) != _MAGIC or len(view) < 10:
        return None
    end = 10 + int.from_bytes(view[8:10], "little")
    found = _HEADER.fullmatch(bytes(view[10:end]))
    if not found:
        return None
    dtype = _dtype(found.group(1))
    if dtype is None:
        return None
    shape = tuple(int(n) for n in found.group(3).split(b",") if n.strip())
    count = math.prod(shape)
    if len(view) - end != count * dtype.itemsize:
        return None
    flat = np.frombuffer(view, dtype=dtype, count=count, offset=end)
    order = "F" if found.group(2) == b"True" else "C"
    return flat.reshape(shape, order=order).copy(order="K")


def fast_array_node() -> type | None:
    """skops' array node, building plain arrays with :func:`read_npy` (None if this skops
    has no such node)."""
    try:
        from skops.io._numpy import NdArrayNode
    except ImportError:
        return None

    class FastArrayNode(NdArrayNode):
        def _construct(self):
            plain = getattr(self, "type", None) == "numpy" and (
                f"{self.module_name}.{self.class_name}" == "numpy.ndarray"
            )
            if plain:
                with self.buffer.getbuffer() as view:
                    array = read_npy(view)
                if array is not None:
                    return array
            return super()._construct()

    return FastArrayNode

"""Arrays of a skops file read straight from numpy's ``.npy`` bytes.

skops builds each array with ``np.load``, which parses every header with
``ast.literal_eval``: for the 1,500 arrays of a 300-tree forest that is 84 ms of a ~300 ms load.
The header numpy writes has one fixed form, so it is matched here and each distinct ``descr``
parsed once; the data are copied out as ``np.load`` would (a writable array owning its
memory), except the arrays a scikit-learn tree copies into its own memory at once, which are
lent to it as views. Anything else (another header version or form, object arrays, short
data) goes to ``np.load``, which accepts or refuses it as before.
"""

from __future__ import annotations

import ast
import functools
import io
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


def read_npy(data: Any, copy: bool = True) -> np.ndarray | None:
    """The array in ``.npy`` bytes ``data``, or None when only ``np.load`` should read them.

    With ``copy=False`` the array is a read-only view of ``data`` (for a reader that copies
    what it needs at once, such as a scikit-learn tree restoring its nodes).

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
    array = flat.reshape(shape, order=order)
    if not copy:
        array.flags.writeable = False
        return array
    return array.copy(order="K")


# The state keys of a scikit-learn tree whose arrays it copies into its own memory at once.
_TREE_COPIES = ("nodes", "values")


def fast_nodes() -> dict[str, type]:
    """skops' node types for arrays and trees, made faster: ``{skops name: node type}``
    (empty when this skops lacks what they build on).

    The array node reads plain arrays with :func:`read_npy` straight from the member's bytes
    (skops copies each member into a ``BytesIO`` and parses its header with ``np.load``).
    The tree node lends its ``nodes`` and ``values`` arrays as views of the file's bytes:
    ``Tree.__setstate__`` copies them into the tree's own memory, so two copies of every
    tree (140 MB of fresh memory for a 300-tree forest) are never made.
    """
    try:
        from skops.io._audit import Node
        from skops.io._numpy import NdArrayNode
        from skops.io._sklearn import TreeNode
        from skops.io._trusted_types import NUMPY_DTYPE_TYPE_NAMES
    except ImportError:
        return {}

    class FastArrayNode(NdArrayNode):
        lend = False  # a view instead of a copy (set by FastTreeNode on its arrays)

        def __init__(self, state, load_context, trusted=None):
            if state.get("type") != "numpy":
                super().__init__(state, load_context, trusted)
                return
            # NdArrayNode.__init__, without copying the member into a BytesIO
            Node.__init__(self, state, load_context, trusted)
            self.type = "numpy"
            self.trusted = self._get_trusted(trusted, [np.ndarray] + NUMPY_DTYPE_TYPE_NAMES)
            self._member = load_context.src.read(state["file"])
            self.buffer = None
            self.children = {"content": io.BytesIO()}  # the audit trusts array data

        def _construct(self):
            if getattr(self, "type", None) != "numpy":
                return super()._construct()
            if f"{self.module_name}.{self.class_name}" == "numpy.ndarray":
                array = read_npy(self._member, copy=not self.lend)
                if array is not None:
                    return array
            self.buffer = io.BytesIO(self._member)
            return super()._construct()

    class FastTreeNode(TreeNode):
        def __init__(self, state, load_context, trusted=None):
            super().__init__(state, load_context, trusted)
            content = getattr(self.attrs, "children", {}).get("content")
            for key in _TREE_COPIES:
                node = content.get(key) if isinstance(content, dict) else None
                if isinstance(node, FastArrayNode):
                    node.lend = True

    return {"NdArrayNode": FastArrayNode, "TreeNode": FastTreeNode}

"""Type aliases shared by the package's annotations (no runtime behaviour)."""
from __future__ import annotations

import os
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = ["FloatArray", "IntArray", "Layers", "JSON", "StrPath"]

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
Layers: TypeAlias = tuple[tuple[int, float], ...]  # checked layers, innermost first: ((k_1, alpha_1), ...)
JSON: TypeAlias = dict[str, Any]  # a JSON-ready object
StrPath: TypeAlias = str | os.PathLike[str]  # a file or folder name

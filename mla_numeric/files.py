"""Atomic file writes: a reader (or an interrupted run) sees the old file or the new, never half."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._typing import StrPath

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["json_text", "write_text", "write_json", "write_csv", "save_figure"]


def _publish(temporary: str, path: Path) -> None:
    """Give the temporary file the usual permissions (mkstemp makes it private), then rename."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


def write_text(path: StrPath, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        _publish(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def json_text(data: Any, indent: int | None = 2) -> str:
    """Standard JSON (RFC 8259, which has no Infinity or NaN): non-finite floats become null."""
    return json.dumps(_finite(data), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def write_json(path: StrPath, data: Any) -> Path:
    return write_text(path, json_text(data) + "\n")


def write_csv(path: StrPath, header: Iterable[object], rows: Iterable[Iterable[object]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def save_figure(figure: Figure, path: StrPath) -> Path:
    """Save a matplotlib figure as PNG, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=110, bbox_inches="tight")
        _publish(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path

"""Atomic file writes: a reader (or an interrupted run) sees the old file or the new, never half."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._typing import StrPath

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write_text", "write_json", "write_csv", "save_figure"]


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


def write_json(path: StrPath, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2) + "\n")


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

"""Output folders that never cost a user a file: refused unless new, empty or our own, and
published by renames so that an interrupted run leaves the previous folder whole.

Every folder this package writes holds the marker file ``MARKER``, listing the entries it wrote.
``check_output_folder`` refuses a path that is a file, the current folder or one of its parents,
and a non-empty folder holding anything mla-check did not write, unless ``force``. ``publish``
moves a finished build into place: a folder that holds only a previous output is swapped whole
(atomically); beside a user's files (``force``) only our own entries are replaced, and a name we
did not write is never touched.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ._typing import StrPath

__all__ = ["MARKER", "FolderError", "check_output_folder", "building", "publish"]

MARKER = ".mla-check-output"


class FolderError(ValueError):
    """An output folder that cannot be used: one line naming the path and what is wrong."""


def _ours(folder: Path) -> set[str]:
    """The entries of ``folder`` that a previous run wrote (from its marker)."""
    try:
        return set(json.loads((folder / MARKER).read_text())["entries"]) | {MARKER}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _foreign(folder: Path) -> list[str]:
    """Entries of an existing folder that mla-check did not write."""
    if not folder.is_dir():
        return []
    ours = _ours(folder)
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in ours)


def check_output_folder(out: StrPath, force: bool = False) -> Path:
    """``out`` as a Path, after refusing what would lose or mix a user's files."""
    if str(out).strip() == "":
        raise FolderError("--out must name a folder, got an empty path")
    out = Path(out)
    resolved = out.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise FolderError(f"--out {out} is the current folder or one of its parents; name a new folder")
    if out.exists() and not out.is_dir():
        raise FolderError(f"--out {out} is an existing file, not a folder; name a new folder")
    foreign = _foreign(out)
    if foreign and not force:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise FolderError(f"--out {out} holds files mla-check did not write ({shown}); name a new folder, "
                          f"or pass --force to write beside them (they are never touched)")
    parent = resolved.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FolderError(f"--out {out}: cannot create the folder {parent} ({error.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise FolderError(f"--out {out}: the folder {parent} is not writable")
    return out


def building(out: Path) -> Path:
    """A fresh private folder beside ``out`` to build the new output in."""
    try:
        return Path(tempfile.mkdtemp(dir=out.resolve().parent, prefix=f".{out.name}.building-"))
    except OSError as error:
        raise FolderError(f"--out {out}: cannot write in {out.resolve().parent} ({error.strerror})") from None


def publish(build: Path, out: Path) -> None:
    """Move the finished ``build`` into place as ``out``, writing the marker; see the module docstring."""
    entries = sorted(entry.name for entry in build.iterdir())
    (build / MARKER).write_text(json.dumps({"written_by": "mla-check", "entries": entries}) + "\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(build, 0o777 & ~umask)  # mkdtemp makes it private
    foreign = _foreign(out)
    if not foreign:
        _swap(build, out)
        return
    ours = _ours(out)
    taken = [name for name in entries if (out / name).exists() and name not in ours]
    if taken:
        raise FolderError(f"--out {out} already holds {', '.join(taken)}, which mla-check did not write; "
                          f"name a new folder")
    for name in entries + [MARKER]:
        _swap(build / name, out / name)
    build.rmdir()


def _swap(new: Path, old: Path) -> None:
    """Replace ``old`` (absent, or ours) by ``new`` with renames; ``old`` comes back on failure."""
    aside = None
    if old.exists() and not (old.is_dir() and not any(old.iterdir())):
        aside = old.with_name(f".{old.name}.old-{os.getpid()}")
        os.replace(old, aside)
    try:
        os.replace(new, old)
    except BaseException:
        if aside is not None:
            os.replace(aside, old)
        raise
    if aside is not None:
        shutil.rmtree(aside) if aside.is_dir() else aside.unlink()

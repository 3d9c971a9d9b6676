"""Output folders that never cost a user a file: refused unless new, empty or our own, and
published by renames so that an interrupted run leaves the previous folder whole.

Every folder this package writes holds the marker file ``MARKER`` (JSON), listing the top-level
entries it wrote ("entries") and every file it wrote, at any depth, as a relative POSIX path
("files"; a symlink counts as a file). Anything else in the folder, at any depth, is the user's:
a file not listed, or a folder holding no listed file. A marker from an earlier version has no
"files"; then its top-level entries count as ours, whole.
``check_output_folder`` refuses a path that is a file, the current folder or one of its parents,
a folder holding a user's path inside one of our top-level entries (replacing that entry would
delete it), and a non-empty folder holding anything mla-check did not write, unless ``force``.
``publish`` checks the folder again, then moves a finished build into place: a folder that holds
only a previous output is swapped whole (atomically); beside a user's files (``force``) only our
own top-level entries are replaced, and a path we did not write is never touched.
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
# What a file browser leaves in the folders it shows (Finder, Windows Explorer): not the user's work,
# so it neither blocks a run nor survives a replacement.
SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


class FolderError(ValueError):
    """An output folder that cannot be used: one line naming the path and what is wrong."""


def _marker(folder: Path) -> tuple[set[str], set[str] | None]:
    """The top-level entries and the files (relative POSIX paths) that ``folder``'s marker lists, each
    with the marker itself; files is None for an earlier version's marker. Nothing is ours without one."""
    try:
        marker = json.loads((folder / MARKER).read_text())
        entries, files = marker["entries"], marker.get("files")
        if not all(isinstance(paths, list) and all(isinstance(path, str) for path in paths)
                   for paths in [entries, [] if files is None else files]):
            raise TypeError("not lists of paths")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set(), None
    return set(entries) | {MARKER}, None if files is None else set(files) | {MARKER}


def _files(folder: Path) -> list[str]:
    """Every file under ``folder`` (a symlink counts as a file, never followed), as sorted relative POSIX paths."""
    found = []
    for top, dirs, names in os.walk(folder):  # followlinks=False: a symlink to a folder is listed, not entered
        links = [name for name in dirs if Path(top, name).is_symlink()]
        found += [(Path(top).relative_to(folder) / name).as_posix() for name in names + links]
    return sorted(found)


def _foreign(folder: Path) -> list[str]:
    """Paths in an existing folder that mla-check did not write, at any depth, relative and sorted: a file not
    in the marker, a folder neither a listed entry nor holding a listed file (not entered), a folder that
    cannot be read."""
    if not folder.is_dir():
        return []
    entries, files = _marker(folder)
    if files is None:  # an earlier version's marker: its top-level entries are ours, whole
        return sorted(entry.name for entry in folder.iterdir() if entry.name not in entries | SYSTEM_FILES)
    holding = entries | {"/".join(path.split("/")[:depth]) for path in files for depth in range(1, path.count("/") + 1)}
    foreign: list[str] = []

    def unreadable(error: OSError) -> None:  # what it holds is unknown, so not ours
        foreign.append(Path(error.filename).relative_to(folder).as_posix())

    for top, dirs, names in os.walk(folder, onerror=unreadable):
        base = Path(top).relative_to(folder)
        for name in list(dirs):
            path = (base / name).as_posix()
            if Path(top, name).is_symlink():  # listed by os.walk, never entered
                dirs.remove(name)
                names.append(name)
            elif path not in holding:
                dirs.remove(name)
                foreign.append(path)
        foreign.extend(path for name in names if (path := (base / name).as_posix()) not in files
                       and name not in SYSTEM_FILES)
    return sorted(foreign)


def _inside_ours(out: Path, foreign: list[str]) -> None:
    """Refuse when a user's path lies inside one of our top-level entries: replacing that entry would delete it."""
    entries = _marker(out)[0]
    inside = [path for path in foreign if path.split("/")[0] in entries]
    if inside:
        more = f" (and {len(inside) - 1} more)" if len(inside) > 1 else ""
        raise FolderError(f"--out {out}: {inside[0]}{more} is inside a folder mla-check writes "
                          f"({inside[0].split('/')[0]}); move it out, or name a new folder")


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
    _inside_ours(out, foreign)
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
    marker = {"written_by": "mla-check", "entries": entries, "files": _files(build)}
    (build / MARKER).write_text(json.dumps(marker) + "\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(build, 0o777 & ~umask)  # mkdtemp makes it private
    foreign = _foreign(out)
    if not foreign:
        _swap(build, out)
        return
    _inside_ours(out, foreign)  # the folder may have changed during the run
    ours = _marker(out)[0]
    taken = [name for name in entries if os.path.lexists(out / name) and name not in ours]
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

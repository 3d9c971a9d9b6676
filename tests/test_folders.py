"""folders.py: an output folder never costs a user a file, and is replaced whole or not at all."""
import json
import os

import pytest

from mla_numeric.folders import MARKER, FolderError, building, check_output_folder, publish


def build_with(out, **files):
    build = building(out)
    for name, text in files.items():
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        (build / name).write_text(text)
    return build


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_new_folder_is_created_with_its_marker(tmp_path):
    out = check_output_folder(tmp_path / "new")
    publish(build_with(out, **{"report.md": "one"}), out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "report.md"]
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # no hidden leftovers


def test_a_previous_output_is_replaced_whole(tmp_path):
    out = tmp_path / "report"
    publish(build_with(check_output_folder(out), **{"a.md": "old", "b.md": "old"}), out)
    publish(build_with(check_output_folder(out), **{"a.md": "new"}), out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.md"] and (out / "a.md").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_a_users_folder_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "userdir"
    out.mkdir()
    (out / "important.txt").write_text("important\n")
    with pytest.raises(FolderError, match=r"holds files mla-check did not write \(important.txt\).*--force"):
        check_output_folder(out)
    assert snapshot(out) == {"important.txt": b"important\n"}


def test_force_writes_beside_a_users_files_and_never_touches_them(tmp_path):
    out = tmp_path / "userdir"
    out.mkdir()
    (out / "important.txt").write_text("important\n")
    publish(build_with(check_output_folder(out, force=True), **{"report.md": "one"}), out)
    publish(build_with(check_output_folder(out, force=True), **{"report.md": "two"}), out)
    assert (out / "important.txt").read_text() == "important\n" and (out / "report.md").read_text() == "two"
    (out / "summary.json").unlink()  if (out / "summary.json").exists() else None
    (out / "notes.md").write_text("mine")
    with pytest.raises(FolderError, match="already holds notes.md"):
        publish(build_with(out, **{"notes.md": "ours"}), out)
    assert (out / "notes.md").read_text() == "mine"


@pytest.mark.parametrize("bad, message", [
    ("", "must name a folder"),
    (".", "is the current folder or one of its parents"),
    ("..", "is the current folder or one of its parents"),
])
def test_paths_that_would_replace_the_working_folder_are_refused(bad, message, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(FolderError, match=message):
        check_output_folder(bad)


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FolderError, match="is an existing file"):
        check_output_folder(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_parent_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(FolderError, match="not writable"):
        check_output_folder(locked / "out")


def previous_output(tmp_path):
    """A folder holding a previous output with a subfolder of ours, as the report writes it."""
    out = tmp_path / "report"
    publish(build_with(check_output_folder(out), **{"report.md": "old", "nqm/nqm.json": "old"}), out)
    return out


def test_the_marker_lists_every_file_written(tmp_path):
    marker = json.loads((previous_output(tmp_path) / MARKER).read_text())
    assert marker["entries"] == ["nqm", "report.md"] and marker["files"] == ["nqm/nqm.json", "report.md"]


def test_a_users_files_inside_our_subfolder_survive_a_rerun(tmp_path):
    # Negative control: with the earlier folders.py (top-level names only) this test fails, as
    # check_output_folder accepts the folder and publish swaps it whole, deleting both user files.
    out = previous_output(tmp_path)
    build = build_with(out, **{"report.md": "new", "nqm/nqm.json": "new"})  # the run started before the user wrote
    (out / "nqm" / "my_notes.txt").write_text("x\n")
    (out / "nqm" / "mydata").mkdir()
    (out / "nqm" / "mydata" / "keep.csv").write_text("x\n")
    before = snapshot(out)
    for force in (False, True):
        with pytest.raises(FolderError,
                           match=r"nqm/my_notes.txt \(and 1 more\) is inside a folder mla-check writes \(nqm\)"):
            check_output_folder(out, force=force)
    with pytest.raises(FolderError, match="is inside a folder mla-check writes"):
        publish(build, out)
    assert snapshot(out) == before and (out / "nqm" / "my_notes.txt").read_bytes() == b"x\n"


def test_a_file_browsers_metadata_does_not_block_a_rerun(tmp_path):
    out = previous_output(tmp_path)
    (out / "nqm" / ".DS_Store").write_bytes(b"Finder")  # the user looked at the figures
    (out / "Thumbs.db").write_bytes(b"Explorer")
    publish(build_with(check_output_folder(out), **{"report.md": "new", "nqm/nqm.json": "new"}), out)
    assert (out / "nqm" / "nqm.json").read_text() == "new"


def test_an_empty_user_folder_inside_ours_is_foreign(tmp_path):
    out = previous_output(tmp_path)
    (out / "nqm" / "empty").mkdir()
    with pytest.raises(FolderError, match=r"nqm/empty is inside a folder mla-check writes \(nqm\)"):
        check_output_folder(out, force=True)
    assert (out / "nqm" / "empty").is_dir()


def test_a_users_symlink_inside_ours_is_foreign_and_not_followed(tmp_path):
    out = previous_output(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "data.csv").write_text("mine")
    (out / "nqm" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(FolderError, match=r"nqm/link is inside"):
        check_output_folder(out, force=True)
    assert (out / "nqm" / "link").is_symlink() and (tmp_path / "elsewhere" / "data.csv").read_text() == "mine"


def test_force_beside_a_users_top_level_files_replaces_our_subfolder(tmp_path):
    out = previous_output(tmp_path)
    (out / "important.txt").write_text("important\n")
    (out / "mine").mkdir()
    with pytest.raises(FolderError, match=r"holds files mla-check did not write \(important.txt, mine\)"):
        check_output_folder(out)
    publish(build_with(check_output_folder(out, force=True), **{"report.md": "new", "nqm/nqm.json": "new"}), out)
    assert (out / "important.txt").read_text() == "important\n" and (out / "mine").is_dir()
    assert (out / "nqm" / "nqm.json").read_text() == "new" and sorted(p.name for p in out.iterdir()) == [
        MARKER, "important.txt", "mine", "nqm", "report.md"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no hidden leftovers


def test_a_marker_without_the_file_list_is_still_reused(tmp_path):
    out = tmp_path / "report"
    (out / "nqm").mkdir(parents=True)
    (out / "nqm" / "nqm.json").write_text("old")
    (out / "report.md").write_text("old")
    (out / MARKER).write_text(json.dumps({"written_by": "mla-check", "entries": ["nqm", "report.md"]}))
    publish(build_with(check_output_folder(out), **{"report.md": "new", "nqm/nqm.json": "new"}), out)
    assert snapshot(out)["nqm/nqm.json"] == b"new" and json.loads((out / MARKER).read_text())["files"] == [
        "nqm/nqm.json", "report.md"]

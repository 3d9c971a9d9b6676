"""files.py: atomic writes leave the old file or the new one, never half, and no temporary files."""
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mla_numeric.files import save_figure, write_csv, write_json, write_text  # noqa: E402


def test_writes_create_folders_and_leave_no_temporary_files(tmp_path):
    write_text(tmp_path / "a" / "b.txt", "hello\n")
    write_json(tmp_path / "a" / "c.json", {"x": [1, 2]})
    write_csv(tmp_path / "a" / "d.csv", ["x", "y"], [[1, 2], [3, 4]])
    figure, axes = plt.subplots()
    axes.plot([0, 1])
    save_figure(figure, tmp_path / "a" / "e.png")
    plt.close(figure)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.txt", "c.json", "d.csv", "e.png"]
    assert json.loads((tmp_path / "a" / "c.json").read_text()) == {"x": [1, 2]}
    assert (tmp_path / "a" / "d.csv").read_text().splitlines() == ["x,y", "1,2", "3,4"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "data.json"
    write_text(path, "old\n")
    with pytest.raises(TypeError):
        write_json(path, {"x": object()})
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["data.json"]

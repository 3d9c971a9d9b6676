"""`mla-check` tried as a careless user would (issue 17): nothing lost, every input answered.

The main job runs here on the registry's worked example alone (docs/examples/descent_check.py),
so that each case costs a second, not a report.
"""
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mla_numeric.checks import registry
from mla_numeric.cli import TABLE_WIDTH, main

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def cheap_registry(monkeypatch):
    """The registry with only the worked example: the main job in about a second."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(registry, "MODULES", ["descent_check"])


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def one_error_line(capsys, *fragments) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mla-check: error: ") and "Traceback" not in err[0], err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


# ---- 1. data loss ------------------------------------------------------------------------------

def test_a_users_folder_is_refused_and_kept(cheap_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "userdir").mkdir()
    (tmp_path / "userdir" / "important.txt").write_text("important\n")
    before = snapshot(tmp_path)
    assert main(["--out", "userdir"]) == 2
    one_error_line(capsys, "userdir", "did not write (important.txt)", "--force")
    assert snapshot(tmp_path) == before


def test_force_writes_beside_the_users_files(cheap_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "userdir").mkdir()
    (tmp_path / "userdir" / "important.txt").write_text("important\n")
    assert main(["--out", "userdir", "--force", "--no-cache"]) == 0
    assert (tmp_path / "userdir" / "important.txt").read_text() == "important\n"
    assert (tmp_path / "userdir" / "report.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["userdir"]  # no hidden leftovers


def test_out_from_inside_that_folder_is_refused(cheap_registry, tmp_path, monkeypatch, capsys):
    work = tmp_path / "some" / "dir"
    work.mkdir(parents=True)
    (work / "stderr.log").write_text("mine\n")
    monkeypatch.chdir(work)
    assert main(["--out", str(work)]) == 2
    one_error_line(capsys, "current folder")
    assert (work / "stderr.log").read_text() == "mine\n"


def test_an_existing_file_is_refused_and_not_moved(cheap_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("notes\n")
    assert main(["--out", "notes.txt"]) == 2
    one_error_line(capsys, "notes.txt is an existing file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_previous_report_is_replaced(cheap_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--out", "report", "--no-cache", "--seed", "1"]) == 0
    assert main(["--out", "report", "--no-cache", "--seed", "2", "--json"]) == 0
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


# ---- 2. options before or after the subcommand ---------------------------------------------------

def simulate_json(capsys, *args):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_seed_and_json_before_the_subcommand(capsys):
    run = ["simulate", "--objective", "quadratic", "--dim", "2", "--T", "3", "--replicates", "2"]
    assert simulate_json(capsys, "--seed", "5", "--json", *run)["config"]["seed"] == 5
    assert simulate_json(capsys, *run, "--seed", "5", "--json")["config"]["seed"] == 5


def test_size_before_a_check_is_used(capsys, tmp_path):
    assert main(["--quick", "--json", "nqm", "--out", str(tmp_path / "nqm")]) == 0
    checks = json.loads(capsys.readouterr().out)
    assert {check["setting"]["replicates"] for check in checks} == {registry.group("nqm").preset("quick").replicates}


@pytest.mark.parametrize("args, message", [
    (["--out", "x", "simulate"], "--out does not apply to simulate"),
    (["--quick", "derive", "--layers", "sgd"], "--quick/--full does not apply to derive"),
    (["nqm-variance", "--layers", "sgd", "--lr", "0.1", "--curvature", "1", "--noise", "1", "--seed", "3"],
     "--seed does not apply to nqm-variance"),
    (["rate", "--no-cache"], "--no-cache does not apply to rate"),
    (["simulate", "--scheduler", "processes:2"], "--scheduler does not apply to simulate"),
    (["--scheduler", "local", "derive", "--layers", "sgd"], "--scheduler does not apply to derive"),
    (["--seed", "1", "simulate", "--seed", "2"], "--seed is given before and after simulate"),
    (["--quick", "nqm", "--full"], "--quick/--full is given before and after nqm"),
    (["simulate", "--oracle", "replacement", "--sigma", "5"], "--sigma applies to the gaussian oracle only"),
    (["simulate", "--seeds", "2", "--replicates", "3"], "--seeds is the old name of --replicates"),
])
def test_options_that_do_not_apply_are_refused(args, message, capsys):
    assert main(args) == 2
    one_error_line(capsys, message)


def test_the_old_seeds_spelling_still_works_with_a_note(capsys):
    assert main(["simulate", "--objective", "quadratic", "--dim", "2", "--T", "3", "--seeds", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["config"]["replicates"] == [0, 1] and "--seeds is now --replicates" in captured.err


# ---- 3. file-system problems, one line each --------------------------------------------------------

@pytest.mark.parametrize("out, message", [("/proc/forbidden", "cannot write in /proc"), ("", "must name a folder"),
                                          (".", "current folder"), ("..", "current folder")])
def test_bad_out_is_one_line(cheap_registry, out, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--out", out]) == 2
    one_error_line(capsys, message)
    assert list(tmp_path.iterdir()) == []


def test_a_check_into_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f2").write_text("x")
    assert main(["nqm", "--out", str(tmp_path / "f2")]) == 2
    one_error_line(capsys, "f2 is an existing file")


def test_an_unwritable_cache_is_one_warning_line(cheap_registry, tmp_path, capsys):
    assert main(["--out", str(tmp_path / "report"), "--cache-dir", "/proc/nope"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mla-check: warning: could not write the cache in /proc/nope")


# ---- 4. answers ------------------------------------------------------------------------------------

def test_a_huge_T_does_not_suggest_an_option_simulate_rejects(capsys):
    assert main(["simulate", "--T", "1000000000000"]) == 2
    line = one_error_line(capsys, "not enough memory", "--T or --replicates")
    assert "--quick" not in line


def test_a_provably_unstable_run_is_flagged_before_it_overflows(capsys):
    assert main(["simulate", "--objective", "quadratic", "--layers", "sgd", "--lr", "2.5", "--T", "200",
                 "--replicates", "4"]) == 0
    err = capsys.readouterr().err
    assert "unstable run" in err and "seed 0" in err and "by step" in err


# ---- 5. reading the output --------------------------------------------------------------------------

def test_a_cache_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["--quick", "--out", str(tmp_path / "report"), "--cache-dir", str(tmp_path / "f")]) == 2
    one_error_line(capsys, "--cache-dir must be a folder", "got the file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"] and (tmp_path / "f").read_text() == "x"


def test_the_terminal_table_fits_100_columns(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # the terminal's width, or 100 when there is none
    assert main(["amplification", "--quick", "--out", str(tmp_path / "a")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= TABLE_WIDTH
    claim_rows = [line for line in lines if "(pred. " in line]
    assert claim_rows and all(("holds (pred." in row) or ("fails (pred." in row) for row in claim_rows)


def test_a_wide_terminal_shows_whole_settings(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["amplification", "--quick", "--out", str(tmp_path / "a")]) == 0
    assert "~" in capsys.readouterr().out  # cut at 100 columns
    monkeypatch.setenv("COLUMNS", "220")
    assert main(["amplification", "--quick", "--out", str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "~" not in "\n".join(lines) and 100 < max(len(line) for line in lines) <= 220


# ---- 6. random argument lists and folders ------------------------------------------------------------

WORDS = ["--quick", "--full", "--out", "--force", "--seed", "--json", "--no-cache", "--cache-dir", "simulate",
         "derive", "nqm-variance", "descent", "--layers", "--T", "--lr", "--replicates", "--oracle", "--sigma",
         "--objective", "5:0.5", "sgd", "0", "-1", "1e9", "x", "", ".", "..", "existing", "userdir", "report",
         "reshuffle", "quadratic", "--curvature", "--noise"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(st.sampled_from(WORDS), max_size=6),
       user_files=st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=5), max_size=3))
def test_random_arguments_never_crash_or_touch_other_files(args, user_files, cheap_registry, tmp_path_factory,
                                                           monkeypatch, capsys):
    root = tmp_path_factory.mktemp("random")
    monkeypatch.chdir(root)
    (root / "existing").write_text("a file\n")
    (root / "userdir").mkdir()
    for name in user_files:
        (root / "userdir" / name).write_text(name)
    args = [arg for arg in args if arg not in ("--T", "--replicates")] + ["--T", "3"] if "simulate" in args else args
    before = snapshot(root)
    try:
        code = main(args + ["--cache-dir", str(root / "cache")] if not args or args[0] not in
                    ("simulate", "derive", "nqm-variance", "descent") else args)
    except SystemExit as exit:  # --help and --version
        code = exit.code
    captured = capsys.readouterr()
    assert code in (0, 1, 2) and "Traceback" not in captured.err
    after = snapshot(root)
    for path, content in before.items():  # nothing outside the report folder changed or removed
        assert after.get(path, "removed") == content, path
    written = {path.split("/")[0] for path in set(after) - set(before)}
    assert written <= {"mla-report", "cache", "report", "mla-check-output"}, written

"""CI (.ci/run) fails on a lint or a type finding: it stops at the first failing command, runs
ruff and mypy before the tests, and both exit non-zero on a finding under the project's config."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"


def _commands(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ci_stops_at_the_first_failure_and_checks_lint_and_types_before_the_tests():
    commands = _commands((ROOT / ".ci" / "run").read_text())
    assert "set -euo pipefail" in commands
    position = {command: index for index, command in enumerate(commands)}
    tests = next(index for index, command in enumerate(commands) if command.endswith("pytest"))
    assert position["ruff check ."] < tests and position["mypy"] < tests


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_lint_finding_fails_ruff(tmp_path):
    (tmp_path / "finding.py").write_text("import os\n")  # F401: imported but unused
    (tmp_path / "clean.py").write_text("import os\n\nprint(os.sep)\n")
    assert _run("ruff", "check", "--config", str(CONFIG), "clean.py", cwd=tmp_path).returncode == 0
    found = _run("ruff", "check", "--config", str(CONFIG), "finding.py", cwd=tmp_path)
    assert found.returncode == 1 and "F401" in found.stdout


def test_a_type_finding_fails_mypy(tmp_path):
    (tmp_path / "finding.py").write_text("def twice(x):\n    return 2 * x\n")  # no annotations: strict
    (tmp_path / "clean.py").write_text("def twice(x: int) -> int:\n    return 2 * x\n")
    options = ("--config-file", str(CONFIG), "--cache-dir", str(tmp_path / "cache"))
    assert _run("mypy", *options, "clean.py", cwd=tmp_path).returncode == 0
    found = _run("mypy", *options, "finding.py", cwd=tmp_path)
    assert found.returncode == 1 and "no-untyped-def" in found.stdout

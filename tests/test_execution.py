"""mla_numeric/execution.py: the same numbers in this process and on a Dask cluster; failures and
interrupts handled by Dask and reported as the local run reports them."""
import dataclasses
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from children import mla_check

import mla_numeric.cli
from mla_numeric import report
from mla_numeric.checks import registry
from mla_numeric.checks.group import Work
from mla_numeric.cli import main
from mla_numeric.execution import Cluster, Local, check_scheduler
from mla_numeric.folders import MARKER

distributed = pytest.importorskip("distributed")
QUICK_GROUPS = ["modified-loss", "nqm"]  # split into units, a few seconds at the quick size


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded workers, shared by the tests: its address, as --scheduler takes it."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as local:
        yield local.scheduler_address


def comparable(summary: dict) -> dict:
    """summary.json without what may differ between schedulers: timings, created, the scheduler, out."""
    summary = json.loads(json.dumps(summary))
    for key in ("timings_seconds", "unit_seconds", "created"):
        summary.pop(key)
    for key in ("scheduler", "out"):
        summary["configuration"].pop(key)
    return summary


def replace_work(monkeypatch, name: str, run) -> Work:
    """Make the registry's group ``name`` run its units with ``run``; its original Work."""
    module = importlib.import_module(registry.MODULES[list(registry.groups()).index(name)])
    work = module.GROUP.measure
    monkeypatch.setattr(module, "GROUP", dataclasses.replace(module.GROUP, measure=Work(work.units, run, work.combine)))
    return work


def test_a_cluster_gives_the_local_summary_number_for_number(cluster, tmp_path):
    local = report.run_all(tmp_path / "local", "quick", groups=QUICK_GROUPS, use_cache=False, progress=False)
    remote = report.run_all(tmp_path / "remote", "quick", groups=QUICK_GROUPS, use_cache=False, progress=False,
                            scheduler=cluster)
    assert remote["failures"] == {} and comparable(remote) == comparable(local)
    assert remote["configuration"]["scheduler"] == cluster
    assert [len(remote["unit_seconds"][group]) for group in QUICK_GROUPS] == [
        len(registry.group(group).tasks(registry.group(group).preset("quick"))) for group in QUICK_GROUPS]


def test_the_cache_is_shared_by_every_scheduler(cluster, tmp_path):
    report.run_all(tmp_path / "first", "quick", groups=["modified-loss"], cache_dir=tmp_path / "cache",
                   progress=False)
    again = report.run_all(tmp_path / "again", "quick", groups=["modified-loss"], cache_dir=tmp_path / "cache",
                           progress=False, scheduler=cluster)
    assert again["cached"] == ["modified-loss"]


def test_a_worker_killed_mid_run_changes_nothing(cluster, tmp_path):
    checked = registry.group("nqm")
    work, marker = checked.measure, tmp_path / "killed"

    def run(unit):  # a nested function: cloudpickle sends it by value
        if unit[0] == "loss curve" and not marker.exists():  # the first such unit takes its worker down
            marker.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return work.run(unit)

    preset = checked.preset("quick")
    local = report.run_group(checked, tmp_path / "local", preset, prefix="nqm")
    dying = dataclasses.replace(checked, measure=Work(work.units, run, work.combine))
    assert report.run_group(dying, tmp_path / "remote", preset, prefix="nqm", scheduler=cluster) == local
    assert marker.exists()


def test_a_unit_that_raises_once_is_run_again(cluster, tmp_path, monkeypatch):
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def run(unit):
        if unit[:2] == ("SGD", None):  # the full-batch SGD unit fails at its first attempt
            (attempts / str(time.time_ns())).touch()
            if len(list(attempts.iterdir())) == 1:
                raise RuntimeError("a passing glitch")
        return work.run(unit)

    work = replace_work(monkeypatch, "modified-loss", run)
    summary = report.run_all(tmp_path / "report", "quick", groups=["modified-loss"], use_cache=False,
                             progress=False, scheduler=cluster)
    assert summary["failures"] == {} and summary["checks"] and len(list(attempts.iterdir())) == 2


def test_a_unit_that_raises_twice_makes_its_group_could_not_run(cluster, tmp_path, monkeypatch, capsys):
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def run(unit):
        if unit[:2] == ("LA", None):  # the full-batch Lookahead unit fails at every attempt
            (attempts / str(time.time_ns())).touch()
            raise RuntimeError("unit exploded")
        return work.run(unit)

    work = replace_work(monkeypatch, "modified-loss", run)
    out = tmp_path / "report"
    monkeypatch.setattr(registry, "MODULES", ["mla_numeric.checks.modified_loss", "mla_numeric.checks.nqm"])
    assert main(["--quick", "--out", str(out), "--no-cache", "--scheduler", cluster]) == 1
    assert "the modified-loss check could not run: RuntimeError: unit exploded" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["failures"]) == ["modified-loss"] and not (out / "modified-loss").exists()
    assert {check["claim"] for check in summary["checks"]} == {"C6"} and len(list(attempts.iterdir())) == 2


def test_local_runs_never_import_dask(tmp_path):
    code = ("import sys\nfrom mla_numeric.cli import main\n"
            f"assert main(['modified-loss', '--quick', '--out', {str(tmp_path / 'out')!r}]) == 0\n"
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'dask', 'distributed'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "[]", done.stderr


def test_a_missing_extra_is_one_line_not_a_crash(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    assert main(["modified-loss", "--quick", "--out", str(tmp_path / "out"), "--scheduler", "processes:2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mla-check: error: --scheduler processes:2 needs Dask's distributed, not installed: "
                   "pip install 'mla-numeric[dask]'"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scheduler", ["processes:0", "processes", "tcp://host", "dask", ""])
def test_a_bad_scheduler_exits_2(scheduler, capsys):
    assert main(["nqm", "--quick", "--scheduler", scheduler]) == 2
    assert "--scheduler must be local, processes:N (N >= 1) or tcp://HOST:PORT" in capsys.readouterr().err
    with pytest.raises(ValueError):
        check_scheduler(scheduler)


def test_an_unreachable_scheduler_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(distributed.Client, "__init__", lambda self, *a, **k: (_ for _ in ()).throw(
        OSError("Timed out trying to connect")))
    assert main(["nqm", "--quick", "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.strip() == ("mla-check: error: cannot reach the Dask scheduler at "
                                               "tcp://127.0.0.1:1 (Timed out trying to connect)")


def test_outcomes_come_per_batch_with_results_in_task_order(cluster):
    batches = [[(abs, -3), (abs, -1)], [], [(int, "x")], [(len, "abcd")]]
    local = {outcome.index: outcome for outcome in Local().run(batches, progress=False)}
    with Cluster(cluster) as remote:
        remote = {outcome.index: outcome for outcome in remote.run(batches, progress=False)}
    for outcomes in (local, remote):
        assert [outcomes[i].results for i in (0, 1, 3)] == [[3, 1], [], [4]]
        assert isinstance(outcomes[2].error, ValueError) and outcomes[2].results is None


@pytest.mark.slow  # the whole quick job twice (about 3 minutes on 2 cores)
def test_quick_job_on_two_processes_equals_the_local_job(tmp_path):
    assert main(["--quick", "--no-cache", "--out", str(tmp_path / "local")]) in (0, 1)
    assert main(["--quick", "--no-cache", "--out", str(tmp_path / "remote"), "--scheduler", "processes:2"]) in (0, 1)
    local, remote = (json.loads((tmp_path / name / "summary.json").read_text()) for name in ("local", "remote"))
    assert comparable(remote) == comparable(local) and remote["configuration"]["scheduler"] == "processes:2"


def _cmdline(process) -> list[str]:
    """A process's command line, or [] if it has ended meanwhile."""
    try:
        return process.cmdline()
    except Exception:  # psutil.NoSuchProcess and the like: a short-lived helper
        return []


def test_ctrl_c_cancels_and_keeps_the_previous_report(tmp_path, previous_report):
    psutil = pytest.importorskip("psutil")  # a dependency of distributed
    out = previous_report
    run = mla_check("--quick", "--no-cache", "--out", str(out), "--scheduler", "processes:1", cwd=tmp_path,
                     stderr=subprocess.PIPE)
    deadline, workers = time.monotonic() + 120, []
    # Mid-run: the cluster's workers are up (multiprocessing's spawned processes, not its resource
    # tracker) and a first group is written into the folder being built, the others still running
    # (the rate group completes first on one worker, and the rest takes several times as long).
    while not (workers and any(tmp_path.glob(".mla-report.building-*/*"))):
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read() if run.poll() is not None else ""
        workers = [process for process in psutil.Process(run.pid).children(recursive=True)
                   if "spawn_main" in " ".join(_cmdline(process))]
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    code, stderr = run.wait(60), run.stderr.read()
    assert code == 130 and "mla-check: interrupted" in stderr, (code, stderr)
    assert (out / "report.md").read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mla-report"]  # no half-built folder left
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "report.md"]
    assert not [worker for worker in workers if worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("signum, code, line", [(signal.SIGINT, 130, "mla-check: interrupted\n"),
                                                 (signal.SIGTERM, 128 + signal.SIGTERM, "mla-check: terminated\n")])
def test_a_signal_while_the_cluster_starts_is_one_line(tmp_path, signum, code, line):
    # SIGTERM goes through the executor's SIGINT handler, which holds it until the cluster has
    # started (found by review: otherwise Dask's exit hook printed a traceback).
    psutil = pytest.importorskip("psutil")
    run = mla_check("--quick", "--no-cache", "--out", str(tmp_path / "mla-report"), "--scheduler", "processes:1",
                    cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not psutil.Process(run.pid).children(recursive=True):  # its first helper process: starting up
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signum)
    assert (run.wait(60), run.stderr.read()) == (code, line)  # no traceback from a half-started cluster
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing half-built


@pytest.fixture
def python_sigint():
    """SIGINT handled as Python does by default, in this process, for one test (the session may ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_that_python_drops_is_raised_at_the_next_unit(python_sigint, recwarn):
    from mla_numeric.execution import _CtrlC

    class Finaliser:  # like Dask's garbage-collection callback: Python ignores what it raises
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs here, inside __del__: its KeyboardInterrupt is dropped

    with _CtrlC() as ctrl_c:
        Finaliser()
        assert ctrl_c.pressed  # dropped, but remembered
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.raise_if_pressed()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_ctrl_c_while_the_cluster_starts_waits_for_the_start(python_sigint):
    from mla_numeric.execution import _CtrlC

    started = False
    with _CtrlC() as ctrl_c, pytest.raises(KeyboardInterrupt), ctrl_c.holding_until_started():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        started = True  # not interrupted half-way
    assert started and ctrl_c.pressed


def test_sigterm_ends_a_run_as_ctrl_c_does_and_leaves_nothing_half_built(tmp_path):
    # kill (or a batch system's stop) sends SIGTERM: Python's default would end the process at once
    # and leave the folder being built beside --out (found by review: .rq.building-* was left).
    run = mla_check("rate", "--quick", "--out", str(tmp_path / "rq"), cwd=tmp_path,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(tmp_path.glob(".rq.building-*")):  # mid-run: the group is being computed
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read() if run.poll() is not None else ""
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    code, stderr = run.wait(60), run.stderr.read()
    assert (code, stderr) == (128 + signal.SIGTERM, "mla-check: terminated\n")
    assert list(tmp_path.iterdir()) == []


def test_the_sigterm_handler_is_the_callers_again_after_main(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    assert main(["derive", "--layers", "2:0.5"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_callers_own_sigterm_handler_is_left_alone():
    def own(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, own)
    try:
        seen = []  # the handler during the run
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(mla_numeric.cli, "_run", lambda argv: seen.append(signal.getsignal(signal.SIGTERM)) or 0)
            assert main([]) == 0
        assert seen == [own] and signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)


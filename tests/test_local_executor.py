"""mla_numeric/execution.py, the local scheduler: single-core batches in a second thread, the others
on one numba thread fewer meanwhile, the same outcomes and the same report."""
import dataclasses
import importlib
import json
import threading

import numba
import pytest

from mla_numeric import report
from mla_numeric.checks import registry
from mla_numeric.execution import Local

SECOND_THREAD = "mla-numeric single-core tasks"


def where(tag):
    """(tag, name of the thread that ran it, numba threads it had)."""
    return tag, threading.current_thread().name, numba.get_num_threads()


def outcomes(batches, single_core):
    return {outcome.index: outcome for outcome in Local().run(batches, progress=False, single_core=single_core)}


def test_single_core_batches_run_beside_the_others_on_one_thread_fewer():
    threads = numba.get_num_threads()
    started = threading.Event()

    def wait_for_the_main_thread(tag):  # keeps the second thread alive until the main thread's first task ran
        assert started.wait(60)
        return where(tag)

    def first(tag):
        result = where(tag)
        started.set()
        return result

    batches = [[(first, "a"), (where, "b")], [(wait_for_the_main_thread, "c"), (where, "d")], [(where, "e")]]
    got = outcomes(batches, [False, True, False])
    assert sorted(got) == [0, 1, 2] and all(outcome.error is None for outcome in got.values())
    assert [tag for tag, _, _ in got[1].results] == ["c", "d"]
    assert {name for _, name, _ in got[1].results} == {SECOND_THREAD}
    assert {name for outcome in (got[0], got[2]) for _, name, _ in outcome.results} == {"MainThread"}
    assert got[0].results[0][2] == max(threads - 1, 1)  # the second thread was working then
    assert len(got[0].seconds) == 2 and len(got[1].seconds) == 2
    assert numba.get_num_threads() == threads  # restored


def test_without_other_batches_single_core_ones_run_here_in_order():
    batches = [[(where, "a")], [(where, "b")]]
    got = list(Local().run(batches, progress=False, single_core=[True, True]))
    assert [outcome.index for outcome in got] == [0, 1]
    assert [outcome.results[0][:2] for outcome in got] == [("a", "MainThread"), ("b", "MainThread")]


def test_a_failing_single_core_task_fails_its_batch_only():
    batches = [[(abs, -3)], [(int, "x"), (abs, -1)], [(abs, -2)], [(len, "ab")]]
    got = outcomes(batches, [False, True, True, False])
    assert isinstance(got[1].error, ValueError) and got[1].results is None
    assert [got[i].results for i in (0, 2, 3)] == [[3], [2], [2]]


def test_ctrl_c_stops_the_second_thread_after_its_current_task():
    ran, release = [], threading.Event()

    def slow(tag):
        ran.append(tag)
        assert release.wait(60)
        return tag

    def interrupted(_):
        raise KeyboardInterrupt

    batches = [[(slow, "first"), (slow, "second")], [(interrupted, None)]]
    with pytest.raises(KeyboardInterrupt):
        list(Local().run(batches, progress=False, single_core=[True, False]))
    release.set()
    [second_thread] = [thread for thread in threading.enumerate() if thread.name == SECOND_THREAD]
    second_thread.join(60)
    assert ran == ["first"] and not second_thread.is_alive()


def test_the_worst_case_beside_another_group_gives_the_same_report(tmp_path, monkeypatch):
    pytest.importorskip("PEPit")  # the 'pep' extra
    groups = ["worst-case", "modified-loss"]
    beside = report.run_all(tmp_path / "beside", "quick", groups=groups, use_cache=False, progress=False)
    module = importlib.import_module(registry.MODULES[list(registry.groups()).index("worst-case")])
    monkeypatch.setattr(module, "GROUP", dataclasses.replace(module.GROUP, single_core=False))
    in_order = report.run_all(tmp_path / "in-order", "quick", groups=groups, use_cache=False, progress=False)
    assert beside["failures"] == {} and beside["checks"] == in_order["checks"]
    assert json.dumps(beside["configuration"]["parameters"]) == json.dumps(in_order["configuration"]["parameters"])

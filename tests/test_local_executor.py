"""mla_numeric/execution.py, the local scheduler: single-core batches in a second thread, the others
on one numba thread fewer meanwhile, the same outcomes and the same report."""
import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time

import numba
import pytest
from children import mla_check

from mla_numeric import execution, report, worst_case
from mla_numeric.checks import worst_case as worst_case_group
from mla_numeric.checks.group import Work
from mla_numeric.execution import Local, stop_event

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


def until(condition, seconds=60):
    """Wait until ``condition()`` holds (polling); fail after ``seconds`` instead of hanging."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_ctrl_c_stops_the_second_thread_and_waits_for_it():
    ran, threads = [], []

    def polls_until_stopped(tag):  # a long single-core task that polls, as pep_clarabel's solver does
        ran.append(tag)
        threads.append(threading.current_thread())
        until(stop_event().is_set)
        return tag

    def interrupted(_):
        until(lambda: threads)
        raise KeyboardInterrupt

    batches = [[(polls_until_stopped, "first"), (polls_until_stopped, "second")], [(interrupted, None)]]
    with pytest.raises(KeyboardInterrupt):
        list(Local().run(batches, progress=False, single_core=[True, False]))
    assert ran == ["first"] and threads[0].name == SECOND_THREAD and threads[0].ended.is_set()
    assert stop_event() is None  # only the second thread has one


def test_a_second_ctrl_c_while_the_second_thread_ends_does_not_leave_it_running():
    # Leaving then would let Python shut down with the thread inside Clarabel: a crash (exit 134).
    release, pressed, threads = threading.Event(), threading.Event(), []

    def does_not_poll(_):  # as PEPit building a problem
        threads.append(threading.current_thread())
        assert release.wait(60)

    def interrupted(_):
        until(lambda: threads)
        raise KeyboardInterrupt

    def ctrl_c_again():  # once the main thread waits for the second one: Ctrl-C there, then let it end
        until(lambda: threads)
        until(threads[0].stop.is_set)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        assert pressed.wait(60)
        release.set()

    def handler(signum, frame):
        pressed.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        helper = threading.Thread(target=ctrl_c_again)
        helper.start()
        with pytest.raises(KeyboardInterrupt):
            list(Local().run([[(does_not_poll, None)], [(interrupted, None)]], progress=False,
                             single_core=[True, False]))
        assert pressed.is_set() and threads[0].ended.is_set()
        helper.join(60)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_second_threads_outcomes_come_between_the_main_threads_tasks():
    def wait_for_the_second_thread(_):  # which has posted its outcome when it ends
        until(lambda: not any(thread.name == SECOND_THREAD for thread in threading.enumerate()))
        return "main"

    batches = [[(wait_for_the_second_thread, None), (abs, -1)], [(abs, -2)]]
    assert [outcome.index for outcome in Local().run(batches, progress=False, single_core=[False, True])] == [1, 0]


def test_a_stop_request_ends_a_clarabel_solve_at_its_next_iteration():
    pytest.importorskip("PEPit")  # the 'pep' extra
    caught = []

    def solve():
        try:
            worst_case.worst_case([(5, 0.5)], 0.2, 2)
        except BaseException as error:  # noqa: BLE001 (the test looks at it)
            caught.append(error)
        finally:
            second.ended.set()

    second = execution._SecondThread([], [])
    second.run = solve  # the thread of the local executor, with one SDP as its work
    second.stop.set()
    second.start()
    assert second.ended.wait(60)
    [error] = caught
    assert isinstance(error, KeyboardInterrupt) and "interrupted" in str(error)


def test_elsewhere_clarabel_gets_no_callback_that_could_swallow_a_ctrl_c(monkeypatch):
    clarabel = pytest.importorskip("clarabel")
    pytest.importorskip("PEPit")

    def refused(self, callback):
        raise AssertionError("a termination callback outside the second thread")

    monkeypatch.setattr(clarabel.DefaultSolver, "set_termination_callback", refused)
    assert worst_case.worst_case([(5, 0.5)], 0.2, 2).status.startswith("optimal")


def test_the_worst_case_beside_another_group_gives_the_same_report(tmp_path, monkeypatch):
    pytest.importorskip("PEPit")  # the 'pep' extra
    groups, ran_in = ["worst-case", "modified-loss"], []
    work = worst_case_group.GROUP.measure

    def recorded(unit):
        ran_in.append(threading.current_thread().name)
        return work.run(unit)

    monkeypatch.setattr(worst_case_group, "GROUP", dataclasses.replace(
        worst_case_group.GROUP, measure=Work(work.units, recorded, work.combine)))
    beside = report.run_all(tmp_path / "beside", "quick", groups=groups, use_cache=False, progress=False)
    assert ran_in and set(ran_in) == {SECOND_THREAD}
    monkeypatch.setattr(worst_case_group, "GROUP", dataclasses.replace(worst_case_group.GROUP, single_core=False))
    ran_in.clear()
    in_order = report.run_all(tmp_path / "in-order", "quick", groups=groups, use_cache=False, progress=False)
    assert ran_in and set(ran_in) == {"MainThread"}
    assert beside["failures"] == {} and beside["checks"] == in_order["checks"]
    assert json.dumps(beside["configuration"]["parameters"]) == json.dumps(in_order["configuration"]["parameters"])


# In the child: a line on stdout as each of Clarabel's solves starts (in the second thread), and at
# exit, after the package's own exit hook, the number of second threads that had not ended.
PROBES = ("import atexit, sys, threading\n"
          "atexit.register(lambda: print('unfinished:', sum(not t.ended.is_set() for t in threading.enumerate()"
          f" if t.name == {SECOND_THREAD!r}), flush=True))\n"
          "import clarabel\n"
          "solve = clarabel.DefaultSolver.solve\n"
          "clarabel.DefaultSolver.solve = lambda self: (print('solving', flush=True, file=sys.__stdout__),\n"
          "                                             solve(self))[1]")


def test_ctrl_c_while_clarabel_solves_beside_is_one_line_and_keeps_the_report(tmp_path, previous_report):
    pytest.importorskip("PEPit")  # the 'pep' extra
    out = previous_report
    run = mla_check("--quick", "--no-cache", "--out", str(out), setup=PROBES, cwd=tmp_path,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert run.stdout.readline() == "solving\n"
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert (run.returncode, stderr) == (130, "mla-check: interrupted\n")  # no abort (134), no traceback
    assert stdout.splitlines()[-1] == "unfinished: 0"  # Python never had to stop it inside Clarabel
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mla-report"]
    assert (out / "report.md").read_text() == "the previous report\n"


def test_a_second_thread_that_dies_without_its_outcomes_is_an_error_not_a_hang(monkeypatch):
    def dies(self):
        self.news.put((execution._ENDED, None))
        self.ended.set()

    monkeypatch.setattr(execution._SecondThread, "run", dies)
    with pytest.raises(RuntimeError, match="the single-core thread ended with 1 batch"):
        list(Local().run([[(abs, -1)], [(abs, -2)]], progress=False, single_core=[True, False]))


def test_a_run_never_closed_is_finished_at_exit_before_python_stops_its_thread():
    code = """if True:
        import threading, time
        from mla_numeric.execution import Local, stop_event
        started = threading.Event()
        def polls(_):
            started.set()
            stop = stop_event()
            while not stop.is_set():
                time.sleep(0.001)
            print("stopped at exit", flush=True)
        def waits(_):
            assert started.wait(60)
        run = Local().run([[(polls, None)], [(waits, None)]], progress=False, single_core=[True, False])
        print(next(run).index, flush=True)  # and exit with the run open and its second thread working
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\nstopped at exit\n", "")


def test_a_stop_request_ends_a_local_run_at_the_next_task():
    # What a SIGTERM leaves when Python drops its KeyboardInterrupt (raised in llvmlite's ctypes
    # callback while numba loads a kernel): the run stops at the next task boundary.
    done = []
    execution.STOP_REQUESTED.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            list(Local().run([[(done.append, 1), (done.append, 2)]], progress=False))
    finally:
        execution.STOP_REQUESTED.clear()
    assert done == [1]

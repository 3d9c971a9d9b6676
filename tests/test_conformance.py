"""The conformance harness (claim C8): its reference is the engine, it accepts correct nestings,
rejects each known defect with that defect as the diagnosis, and reports missing libraries."""
import subprocess
import sys

import naive
import numpy as np
import pytest

import mla_numeric as mn
from mla_numeric import conformance as cf
from mla_numeric.objectives import make

LAYERS = ((3, 0.6), (2, 0.7), (2, 0.8))  # alpha != 1/2 and k_1 != k_1 k_2: every defect shows


def wells_setting(sigma=0.0, cycles=6):
    objective = make("wells", 4)
    return cf.Setting(objective, objective.start(), 0.05, cycles, sigma, seed=3, replicate=2)


def test_engine_noise_is_the_stream_of_the_engine():
    """engine_noise against the pure-Python stream of tests/naive.py, position c d + q."""
    scale = np.array([0.5, 1.0, 2.0])
    calls = [0, 1, 7, 1000]
    noise = cf.engine_noise(11, 4, calls, scale)
    key = naive.stream_key(11, 4)
    expected = [[s * naive.normal(key, c * 3 + q) for q, s in enumerate(scale)] for c in calls]
    np.testing.assert_array_equal(noise, expected)


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("sigma", [0.0, 1.5])
def test_reference_run_reproduces_the_engine_bit_for_bit(depth, sigma):
    setting = wells_setting(sigma)
    layers = LAYERS[:depth]
    K = int(np.prod([k for k, _ in layers]))
    gradient = setting.oracle(setting.cycles * K)
    twin = cf.reference_run(layers, setting.lr, setting.x0, gradient, setting.cycles)
    run = mn.simulate(setting.objective, mn.MLA(layers, setting.lr), setting.cycles, [2],
                      mn.GaussianNoise(sigma), setting.x0, seed=3, trajectory=True)
    np.testing.assert_array_equal(twin.slow, run.trajectory[0, 1:])
    np.testing.assert_array_equal(twin.fast[::K], run.trajectory[0, :-1])  # each cycle starts at phi


def test_two_layer_trace_by_hand():
    """G = 1 at every call, eta = 1, layers (2, 1/2), (2, 1/2), x_0 = 0. Fast points of calls 0..7:
    0 -> -1 -> (sync: phi_1 = -1) -1 -> -2 -> (phi_1 = -1 + (-3 + 1)/2 = -2, phi_2 = (0 - 2)/2 = -1,
    restart) -1 -> -2 -> (phi_1 = -2) -2 -> -3 -> (phi_1 = -2 + (-4 + 2)/2 = -3, phi_2 = -1 + (-3 + 1)/2 = -2)."""
    record = cf.reference_run([(2, 0.5), (2, 0.5)], 1.0, [0.0], lambda x, c: np.ones(1), cycles=2)
    np.testing.assert_array_equal(record.fast[:, 0], [0, -1, -1, -2, -1, -2, -2, -3])
    np.testing.assert_array_equal(record.slow[:, 0], [-1, -2])


class SGD:
    """Level 0 of a hand-written nested wrapper: the fast weights."""

    def __init__(self, x, lr):
        self.x, self.lr = x, lr

    def step(self, g):
        self.x -= self.lr * g

    def fast(self):
        return self.x

    def arrays(self):
        return [self.x]

    def load(self, arrays):
        self.x[:] = arrays[0]


class Level:
    """One Lookahead layer written like a library wrapper, with an optional defect.

    It counts the calls it sees and synchronises every ``period`` calls. Correctly, its slow copy
    is a snapshot of everything it wraps, and a sync loads the interpolated snapshot back into it
    (fast weights and inner slow weights alike). Defects: "stale" keeps a copy of the fast weights
    only; "late at first call" tests its counter before incrementing it and takes its slow copy
    then; "late at first sync" takes it at its first sync; "direction" swaps the interpolation;
    "shared" counts in a counter shared by all levels.
    """

    def __init__(self, inner, period, alpha, defect, counter):
        self.inner, self.period, self.alpha, self.defect, self.counter = inner, period, alpha, defect, counter
        self.slow = None if defect in ("late at first call", "late at first sync") else self._snapshot()

    def _snapshot(self):
        if self.defect == "stale":
            return self.inner.fast().copy()
        return [a.copy() for a in self.inner.arrays()]

    def fast(self):
        return self.inner.fast()

    def arrays(self):
        return self.inner.arrays() + ([self.slow] if self.defect == "stale" else self.slow)

    def load(self, arrays):
        half = len(arrays) // 2
        self.inner.load(arrays[:half])
        self.slow = [a.copy() for a in arrays[half:]]

    def outer_slow(self):
        if self.slow is None:
            return None
        return self.slow if self.defect == "stale" else self.slow[-1]

    def step(self, g):
        self.inner.step(g)
        if self.defect == "late at first call":
            due = self.counter[0] == 0
            self.counter[0] = (self.counter[0] + 1) % self.period
        else:
            self.counter[0] += 1
            due = self.counter[0] >= self.period
            if due:
                self.counter[0] = 0
        if due:
            self.sync()

    def sync(self):
        a = self.alpha
        if self.slow is None:
            self.slow = self._snapshot()
        if self.defect == "stale":
            x = self.inner.fast()
            x[:] = self.slow + a * (x - self.slow)
            self.slow = x.copy()
            return
        if self.defect == "direction":
            new = [f + a * (s - f) for s, f in zip(self.slow, self.inner.arrays(), strict=True)]
        else:
            new = [s + a * (f - s) for s, f in zip(self.slow, self.inner.arrays(), strict=True)]
        self.inner.load(new)
        self.slow = [n.copy() for n in new]


def hand_written(layers, lr, defect=None) -> cf.Adapter:
    def init(x0):
        level, shared, period = SGD(x0, lr), [0], 1
        for k, alpha in layers:
            period = k if defect == "calls" else period * k
            level = Level(level, period, alpha, defect, shared if defect == "shared" else [0])
        return level

    def step(state, g):
        state.step(g)
        return state

    return cf.Adapter(init, step, lambda s: s.fast(), lambda s: s.outer_slow())


DEFECTS = {
    "calls": "periods counted in calls",
    "stale": "inner slow weights not re-synchronised",
    "late at first call": "slow weights initialised late (at the first call)",
    "late at first sync": "slow weights initialised late (at the first synchronisation)",
    "direction": "interpolation direction",
    "shared": "state reset",
}


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_a_correct_hand_written_nesting_conforms(depth, sigma):
    result = cf.compare(hand_written(LAYERS[:depth], 0.05), LAYERS[:depth], wells_setting(sigma))
    assert (result.verdict, result.first_deviation, result.diagnosis) == ("conforms", None, None)
    assert result.max_rel_deviation <= cf.RTOL


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_conforming_run_records_which_defects_it_would_have_detected(depth):
    # The control of a "holds": every known defect that changes the algorithm in this setting parts
    # from the implementation. The multi-level defects change nothing with one layer and are left
    # out there. (Found by review: conforming rows recorded no defect at all, so their control was
    # rejected without ever being run.)
    result = cf.compare(hand_written(LAYERS[:depth], 0.05), LAYERS[:depth], wells_setting(1.0))
    assert result.causes and all(first is not None for first in result.causes.values())
    one_layer_only = {"inner slow weights not re-synchronised"}
    assert (one_layer_only & set(result.causes)) == (set() if depth == 1 else one_layer_only)


def test_a_defect_that_goes_unnoticed_leaves_the_c8_control_standing():
    from mla_numeric.checks.conformance import _control

    def row(causes):
        comparison = cf.Comparison(LAYERS, "exact", "conforms", None, 0.0, None, causes)
        return type("Row", (), {"comparisons": (comparison,)})()

    assert _control(row({"interpolation direction": 3})).verdict == "fails"  # rejected: detected
    assert _control(row({"interpolation direction": 3, "state reset": None})).verdict == "inconclusive"
    assert _control(row({})).verdict == "inconclusive"  # no defect changes anything here: no power


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("defect", DEFECTS)
def test_each_known_defect_is_rejected_and_named(defect, depth):
    """Negative controls: one deliberately broken wrapper per known cause."""
    result = cf.compare(hand_written(LAYERS[:depth], 0.05, defect), LAYERS[:depth], wells_setting(1.0))
    assert result.verdict == "deviates"
    assert result.max_rel_deviation > 1e-3
    assert result.diagnosis == DEFECTS[defect]
    assert result.causes[result.diagnosis.split(" (")[0]] is None  # that cause alone reproduces it
    assert result.deviation[result.first_deviation] > cf.RTOL
    assert np.all(result.deviation[:result.first_deviation] <= cf.RTOL)


def test_first_deviation_of_a_literal_nesting_is_the_first_early_outer_sync():
    """Counting calls, level 2 of (3, .6), (2, .7) syncs after call 1 (0-based): call 2 is the first
    made at a different point."""
    result = cf.compare(hand_written(LAYERS[:2], 0.05, "calls"), LAYERS[:2], wells_setting())
    assert result.first_deviation == 2


def test_an_optimizer_that_raises_deviates_with_the_error_as_diagnosis():
    def step(state, g):
        if state[1] == 4:
            raise FloatingPointError("boom")
        return state[0] - 0.05 * g, state[1] + 1

    adapter = cf.Adapter(lambda x0: (x0, 0), step, lambda s: s[0], lambda s: s[0])
    result = cf.compare(adapter, LAYERS[:1], wells_setting())
    assert result.verdict == "deviates"
    assert result.error == "FloatingPointError: boom"
    assert result.diagnosis == "raised FloatingPointError: boom at call 4"


def test_a_missing_library_is_not_installed_never_an_error():
    fake = cf.Implementation("nowhere.Lookahead", "nowhere", ("mla_no_such_module",),
                             lambda layers, lr: f"optimizer = nowhere.Lookahead({layers})", lambda code: None)
    table = cf.conformance_table(cf.ConformancePreset(cycles=2), [fake], depths=[1, 2])
    assert [row.verdict for row in table.rows] == ["not installed", "not installed"]
    assert "mla_no_such_module" in table.rows[0].note
    assert table.rows[0].to_dict()["verdict"] == "not installed"


def test_table_rows_and_figure(tmp_path):
    correct = cf.Implementation("hand-written", "tests", (), lambda layers, lr: f"hand_written({layers})",
                                lambda code: hand_written(eval(code[13:-1]), 0.05))
    broken = cf.Implementation("hand-written, periods in calls", "tests", (),
                               lambda layers, lr: f"hand_written({layers}, 'calls')",
                               lambda code: hand_written(eval(code[13:-10]), 0.05, "calls"))
    table = cf.conformance_table(cf.ConformancePreset(cycles=3), [correct, broken])
    verdicts = [(row.implementation, len(row.layers), row.verdict) for row in table.rows]
    assert verdicts == [("hand-written", 1, "conforms"), ("hand-written", 2, "conforms"),
                        ("hand-written", 3, "conforms"), ("hand-written, periods in calls", 1, "conforms"),
                        ("hand-written, periods in calls", 2, "deviates"),
                        ("hand-written, periods in calls", 3, "deviates")]
    row = table.rows[4]
    assert [c.gradients for c in row.comparisons] == ["exact", "noisy (sigma = 1)"]
    assert row.to_dict()["diagnosis"] == "periods counted in calls"
    from mla_numeric.plotting.conformance import conformance_figure
    path = conformance_figure(table, tmp_path / "c8.png")
    assert path.stat().st_size > 10_000


def test_importing_the_harness_imports_neither_jax_nor_torch():
    code = ("import sys, mla_numeric.conformance, mla_numeric.contrib; "
            "print(sorted(m for m in ('jax', 'torch', 'optax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# The libraries' own Lookahead, nested as their documentation suggests (findings pinned to the
# versions of the conformance extra; docs/conformance.md explains them).

def judge(name, depth, sigma=0.0):
    implementation = next(i for i in cf.IMPLEMENTATIONS if i.name == name)
    for module in implementation.modules:
        pytest.importorskip(module)
    code = implementation.construction(LAYERS[:depth], 0.05)
    return cf.compare(implementation.adapter(code), LAYERS[:depth], wells_setting(sigma))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_optax_nested_with_periods_in_calls_conforms(depth):
    assert judge("optax.lookahead, outer periods k_1...k_i", depth, 1.0).verdict == "conforms"


@pytest.mark.parametrize("depth", [2, 3])
def test_optax_literal_nesting_counts_periods_in_calls(depth):
    result = judge("optax.lookahead", depth)
    assert (result.verdict, result.first_deviation, result.diagnosis) == ("deviates", 2, "periods counted in calls")


def test_pytorch_optimizer_lookahead_conforms_at_one_layer_only():
    assert judge("pytorch_optimizer.Lookahead", 1).verdict == "conforms"
    result = judge("pytorch_optimizer.Lookahead, outer periods k_1...k_i", 2)
    assert (result.verdict, result.diagnosis) == ("deviates", "state reset")


def test_torch_optimizer_lookahead_takes_its_slow_weights_after_the_first_call():
    result = judge("torch_optimizer.Lookahead", 1)
    assert (result.verdict, result.first_deviation) == ("deviates", 3)
    assert result.diagnosis == "slow weights initialised late (at the first call)"


# ---- the C8 check group (checks/conformance.py) ---------------------------------------------------

def test_the_c8_group_judges_rows_with_controls_and_notes_missing_libraries():
    from mla_numeric.checks.registry import group

    checked = group("conformance")
    if checked.missing():
        pytest.skip(f"conformance extra not installed: {checked.missing()}")
    table, results = checked.run(checked.preset("quick", libraries=("optax", "timm")))
    verdicts = {(r.setting["implementation"], r.setting["layers"]): r for r in results}
    literal = [r for (name, layers), r in verdicts.items() if name == "optax.lookahead" and "," in layers]
    assert literal and all(r.verdict == "fails" and r.setting["diagnosis"] == "periods counted in calls"
                           for r in literal)
    holding = [r for r in results if r.verdict == "holds"]
    assert holding and all(r.control[0].rejected and r.resolution.value == cf.RTOL for r in holding)
    timm = [r for r in results if r.setting["library"] == "timm"]
    assert timm and all(r.verdict == "inconclusive" and r.note.startswith("not installed") for r in timm)
    with pytest.raises(ValueError, match="--library must be one of"):
        checked.run(checked.preset("quick", libraries=("keras",)))

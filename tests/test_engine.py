"""The engine against its twin, the exact reductions of THEORY.md, determinism and divergence."""
import json
import os
import subprocess
import sys

import naive
import numpy as np
import pytest

import mla_numeric as mn
from mla_numeric import objectives
from mla_numeric.objectives import Objective, diagonal_quadratic

LAYERS = [[], [(3, 0.5)], [(2, 0.5), (3, 0.8)], [(2, 0.6), (1, 0.9), (2, 0.7)]]
SMALL_DIMS = {"quadratic": 5, "dense-quadratic": 4, "nqm": 5, "robust-regression": 3,
              "logistic-nonconvex": 3, "wells": 3, "valley": 2}


def oracles_for(objective):
    if objective.name == "nqm":
        yield objectives.nqm_noise(objective)
        return
    yield mn.GaussianNoise(0.7)
    if objective.is_finite_sum:
        yield mn.WithReplacement()
        yield mn.RandomReshuffling()


CASES = [(name, layers, oracle.name)
         for name in objectives.BUILTIN
         for layers in LAYERS
         for oracle in oracles_for(objectives.make(name, SMALL_DIMS[name], seed=1))]


@pytest.mark.parametrize("name, layers, oracle_name", CASES)
def test_kernel_matches_twin(name, layers, oracle_name):
    objective = objectives.make(name, SMALL_DIMS[name], seed=1)
    oracle = next(o for o in oracles_for(objective) if o.name == oracle_name)
    lr = 0.05 if name != "valley" else 0.02
    T, seed = 5, 7
    result = mn.simulate(objective, mn.MLA(layers, lr), T, replicates=[0, 3], oracle=oracle,
                         seed=seed, trajectory=True)
    for row, replicate in enumerate([0, 3]):
        loss, grad_norm_sq, trajectory = naive.simulate(
            objective, layers, lr, T, objective.start(), oracle, seed=seed, replicate=replicate)
        np.testing.assert_allclose(result.loss_records[row], loss, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(result.grad_norm_sq_records[row], grad_norm_sq, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(result.trajectory[row], trajectory, rtol=1e-12, atol=1e-14)


def test_kernel_matches_twin_across_batches_of_normals():
    # The kernel draws the normals of _NORMALS_PER_BATCH // d oracle calls at a time (341 calls
    # at d = 3); 15 iterations of K = 25 make 375 calls, so the run crosses a batch boundary, and
    # block = 4 (100 calls) starts kernel calls in the middle of a batch.
    from mla_numeric.engine import _NORMALS_PER_BATCH
    objective, oracle, layers, T = diagonal_quadratic(3, seed=1), mn.GaussianNoise(1.0), [(5, 0.5), (5, 0.5)], 15
    assert T * 25 > _NORMALS_PER_BATCH // 3
    result = mn.simulate(objective, mn.MLA(layers, 0.05), T, replicates=[1], oracle=oracle, seed=2,
                         block=4, trajectory=True)
    loss, grad_norm_sq, trajectory = naive.simulate(objective, layers, 0.05, T, objective.start(), oracle,
                                                    seed=2, replicate=1)
    np.testing.assert_allclose(result.grad_norm_sq_records[0], grad_norm_sq, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(result.trajectory[0], trajectory, rtol=1e-12, atol=1e-14)


# Final phi_T[0] of three runs, recorded with the engine of commit 954f8a3 (before the normals were
# drawn in bulk). The random streams are part of the contract: reports are compared number for
# number across versions, so any change of the stream or of the arithmetic shows up here. The
# objectives use no libm function (a quadratic and the valley), so the values are portable.
GOLDEN = {
    "gaussian": ["0x1.670b97e31f574p-4", "0x1.a6a2c4bb95598p-4", "0x1.dad246cb9477fp-4"],
    "replacement": ["0x1.06dc5834a1791p+0", "0x1.0a9d056c5e8bcp+0", "0x1.0a646af842502p+0"],
    "reshuffle": ["0x1.0bae502708db8p+0", "0x1.0b0ec8dfb7ac8p+0", "0x1.0c2a20f4f925dp+0"],
}


def test_results_are_those_of_earlier_versions():
    quadratic, valley = diagonal_quadratic(3, seed=0), objectives.make("valley", 2, seed=0)
    runs = {
        "gaussian": (quadratic, mn.MLA([(5, 0.5), (5, 0.5)], 0.1), mn.GaussianNoise(1.0)),
        "replacement": (valley, mn.MLA([(3, 0.5)], 0.02), mn.WithReplacement()),
        "reshuffle": (valley, mn.MLA([(3, 0.5), (2, 0.8)], 0.02), mn.RandomReshuffling()),
    }
    for name, (objective, optimizer, oracle) in runs.items():
        result = mn.simulate(objective, optimizer, 20, replicates=3, oracle=oracle, seed=7)
        assert [float(x).hex() for x in result.final[:, 0]] == GOLDEN[name], name


def test_seeds_is_a_deprecated_name_of_replicates():
    objective, optimizer, oracle = diagonal_quadratic(2, seed=0), mn.MLA([], 0.1), mn.GaussianNoise(1.0)
    with pytest.warns(DeprecationWarning, match="replicates="):
        old = mn.simulate(objective, optimizer, 3, seeds=[2, 0], oracle=oracle)
    new = mn.simulate(objective, optimizer, 3, replicates=[2, 0], oracle=oracle)
    np.testing.assert_array_equal(old.final, new.final)
    assert old.config == new.config


def test_version_has_one_home():
    from mla_numeric import _version, engine
    assert mn.__version__ == engine.__version__ == _version.__version__


def test_shuffle_is_a_permutation_that_changes_each_epoch():
    from mla_numeric.engine import shuffle_epoch
    key = naive.stream_key(0, 0)
    orders = []
    for epoch in range(4):
        perm = np.empty(9, dtype=np.int64)
        shuffle_epoch(key, epoch, perm)
        assert sorted(perm) == list(range(9))
        assert perm.tolist() == naive.epoch_order(key, epoch, 9)
        orders.append(perm.tolist())
    assert len({tuple(o) for o in orders}) == 4


# ---- exact reductions (THEORY.md, "Equivalences that must hold exactly") -------------------

def run(layers, lr, T, objective=None, **kwargs):
    objective = objective or diagonal_quadratic(6, seed=2)
    kwargs.setdefault("oracle", mn.GaussianNoise(0.5))
    return mn.simulate(objective, mn.MLA(layers, lr), T, replicates=3, seed=11, trajectory=True, **kwargs)


def test_all_alpha_one_is_sgd():
    # K = 5 and all alpha = 1: cycle t ends where SGD's step 5t does, on the same stream.
    mla = run([(5, 1.0)], 0.1, 8)
    sgd = run([], 0.1, 40)
    np.testing.assert_allclose(mla.trajectory, sgd.trajectory[:, ::5], rtol=1e-12, atol=1e-14)
    two = run([(2, 1.0), (3, 1.0)], 0.1, 6)
    np.testing.assert_allclose(two.trajectory, sgd.trajectory[:, :37:6], rtol=1e-12, atol=1e-14)


def test_all_k_one_is_sgd_at_lr_eta_P():
    mla = run([(1, 0.5), (1, 0.4)], 0.3, 20)
    sgd = run([], 0.3 * 0.5 * 0.4, 20)
    np.testing.assert_allclose(mla.trajectory, sgd.trajectory, rtol=1e-12, atol=1e-14)


def test_one_layer_is_lookahead():
    # Lookahead as Zhang et al. write it: k fast steps from phi, then phi += alpha (x - phi).
    objective, oracle, k, alpha, lr, T = diagonal_quadratic(4, seed=3), mn.GaussianNoise(1.0), 4, 0.6, 0.2, 6
    engine = mn.simulate(objective, mn.MLA([(k, alpha)], lr), T, replicates=[2], seed=5, oracle=oracle, trajectory=True)
    key, call, phi = naive.stream_key(5, 2), 0, objective.start()
    for t in range(1, T + 1):
        x = phi.copy()
        for _ in range(k):
            x = x - lr * naive.stochastic_gradient(objective, oracle, key, call, x)
            call += 1
        phi = phi + alpha * (x - phi)
        np.testing.assert_allclose(engine.trajectory[0, t], phi, rtol=1e-12)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_unit_layer_changes_nothing(position):
    layers = [(3, 0.5), (2, 0.7)]
    padded = layers[:position] + [(1, 1.0)] + layers[position:]
    np.testing.assert_allclose(run(padded, 0.1, 10).trajectory, run(layers, 0.1, 10).trajectory,
                               rtol=1e-12, atol=1e-14)


def test_two_layer_trace_by_hand():
    # f(x) = x^2 / 2, exact gradients, eta = 1/2: a fast step halves x. Layers (2, 1/2), (2, 1/2):
    #   level-1 cycle from 8:    8 -> 4 -> 2,       phi_1 = 8 + (2 - 8)/2    = 5
    #   level-1 cycle from 5:    5 -> 2.5 -> 1.25,  phi_1 = 5 + (1.25 - 5)/2 = 3.125
    #   level-2 sync:                               phi_2 = 8 + (3.125 - 8)/2 = 5.5625
    # so each top-level iteration multiplies by 5.5625 / 8 = 0.6953125 (all exact in binary).
    objective = diagonal_quadratic(1, h=[1.0], xstar=[0.0])
    result = mn.simulate(objective, mn.MLA([(2, 0.5), (2, 0.5)], 0.5), 2, replicates=1, x0=[8.0],
                         trajectory=True)
    assert result.trajectory[0, :, 0].tolist() == [8.0, 5.5625, 5.5625 * 0.6953125]


# ---- the cycle lemma ------------------------------------------------------------------

@pytest.mark.parametrize("layers", [[(3, 0.5)], [(2, 0.3), (3, 0.8)], [(2, 0.6), (2, 0.5), (3, 0.9)],
                                    [(1, 0.5), (4, 0.25)]])
def test_cycle_lemma(layers):
    # For arbitrary oracle outputs G_j: phi' = phi - eta P sum_j G_j and
    # x_l = phi - eta sum_{j<l} d_jl G_j (THEORY.md), on the twin's recursion and the package's.
    optimizer = mn.MLA(layers, lr=0.3)
    rng = np.random.default_rng(len(layers))
    G = rng.standard_normal((optimizer.K, 3))
    phi = rng.standard_normal(3)
    d = optimizer.pair_weights()
    for recursion in (lambda p, step: naive.nested_iteration(p, layers, lambda x: step(x, None)),  # noqa: B023 (x is the lambda's own argument)
                      lambda p, step: mn.cycle.nested_cycle(p, step, layers)):
        points = []

        def step(x, _, points=points):
            points.append(x)
            return x - optimizer.lr * G[len(points) - 1]

        end = recursion(phi, step)
        np.testing.assert_allclose(end, phi - optimizer.lr * optimizer.P * G.sum(axis=0), rtol=1e-12)
        for l, x in enumerate(points):
            np.testing.assert_allclose(x, phi - optimizer.lr * d[:l, l] @ G[:l], rtol=1e-12, atol=1e-15)


def test_pair_weights_by_hand():
    # Layers (2, a), (2, b): steps 1,2 | 3,4 share level-1 cycles; 1 or 2 and 3 or 4 meet at level 2.
    d = mn.MLA([(2, 0.5), (2, 0.25)]).pair_weights()
    np.testing.assert_array_equal(d, [[0, 1, 0.5, 0.5], [0, 0, 0.5, 0.5], [0, 0, 0, 1], [0, 0, 0, 0]])


# ---- determinism ----------------------------------------------------------------------

def test_chunking_and_blocks_do_not_change_results():
    objective = objectives.make("robust-regression", 4, seed=0)
    kwargs = dict(oracle=mn.RandomReshuffling(), seed=3, trajectory=True)
    optimizer = mn.MLA([(3, 0.5), (2, 0.5)], 0.05)
    whole = mn.simulate(objective, optimizer, 12, replicates=6, **kwargs)
    pieces = mn.simulate(objective, optimizer, 12, replicates=6, chunk=4, block=5, **kwargs)
    subset = mn.simulate(objective, optimizer, 12, replicates=[4, 1], block=1, **kwargs)
    np.testing.assert_array_equal(whole.trajectory, pieces.trajectory)
    np.testing.assert_array_equal(whole.trajectory[[4, 1]], subset.trajectory)
    streamed = mn.simulate(objective, optimizer, 12, replicates=6, keep="summary", chunk=4,
                           oracle=mn.RandomReshuffling(), seed=3)
    np.testing.assert_allclose(streamed.grad_norm_sq.mean, whole.grad_norm_sq_records.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(streamed.grad_norm_sq.stderr,
                               whole.grad_norm_sq_records.std(axis=0, ddof=1) / np.sqrt(6), rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(streamed.final, whole.final)


@pytest.mark.parametrize("oracle", [mn.GaussianNoise(0.7), mn.WithReplacement()], ids=lambda o: o.name)
def test_skipping_the_loss_changes_nothing_else(oracle):
    objective = objectives.make("robust-regression", 4, seed=0)
    optimizer = mn.MLA([(3, 0.5)], 0.05)
    both = mn.simulate(objective, optimizer, 30, replicates=4, oracle=oracle, seed=2, trajectory=True)
    grads = mn.simulate(objective, optimizer, 30, replicates=4, oracle=oracle, seed=2, trajectory=True,
                        record_loss=False)
    np.testing.assert_array_equal(grads.grad_norm_sq_records, both.grad_norm_sq_records)
    np.testing.assert_array_equal(grads.trajectory, both.trajectory)
    np.testing.assert_array_equal(grads.average_grad_norm_sq, both.average_grad_norm_sq)
    assert grads.loss_records is None and grads.loss.count == 0 and np.all(np.isnan(grads.loss.mean))
    with pytest.raises(ValueError, match="record_loss must be True or False, got 'no'"):
        mn.simulate(objective, optimizer, 3, record_loss="no")


@pytest.mark.parametrize("shape", [(64, 9), (7, 3), (1, 5), (3, 17), (5, 16)])
def test_summaries_by_blocks_have_numpys_bits(monkeypatch, shape):
    # Above 4 columns (2048 in use) by blocks of 4, with a last block of 1 column at 9 and 17: numpy alone
    # would reduce a single column pairwise, not row by row, and change the last bits.
    from mla_numeric import engine

    monkeypatch.setattr(engine, "_COLUMNS_PER_BLOCK", 4)
    rng = np.random.default_rng(3)
    rows = rng.exponential(size=shape) * rng.uniform(0.1, 10, size=shape[1])
    moments = engine._RunningMoments()
    moments.add(rows)
    mean = rows.mean(axis=0)
    np.testing.assert_array_equal(moments.mean, mean)
    np.testing.assert_array_equal(moments.m2, ((rows - mean) ** 2).sum(axis=0))


_DIGEST = """
import hashlib, numba, numpy as np, mla_numeric as mn
from mla_numeric import objectives
objective = objectives.make("logistic-nonconvex", 5, seed=0)
result = mn.simulate(objective, mn.MLA([(5, 0.5), (5, 0.5)], 0.05), 40, replicates=7,
                     oracle=mn.WithReplacement(), trajectory=True)
gauss = mn.simulate(objective, mn.MLA([(5, 0.5)], 0.05), 40, replicates=7, oracle=mn.GaussianNoise(1.0))
# K = 6 calls an iteration and one kernel call per iteration (block 1), so epochs of m components
# straddle kernel calls and the order is redrawn mid-epoch.
shuffled = mn.simulate(objective, mn.MLA([(3, 0.5), (2, 0.5)], 0.05), 40, replicates=7,
                       oracle=mn.RandomReshuffling(), trajectory=True)
# 1000 calls at d = 3 cross batches of normals (341 calls), and kernel calls of 7 iterations
# start inside a batch.
noisy = mn.simulate(objectives.make("quadratic", 3, seed=0), mn.MLA([(5, 0.5), (5, 0.5)], 0.05), 40,
                    replicates=5, oracle=mn.GaussianNoise(1.0), block=7, trajectory=True)
digest = hashlib.sha256(result.trajectory.tobytes() + gauss.loss_records.tobytes()
                        + shuffled.trajectory.tobytes() + noisy.trajectory.tobytes()).hexdigest()
print(numba.get_num_threads(), objective.m, digest)
"""


def test_results_do_not_depend_on_thread_count(tmp_path):
    # The child runs in an empty directory, so it imports the installed package, not ./mla_numeric.
    digests = set()
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", _DIGEST], env=env, cwd=tmp_path,
                             capture_output=True, text=True, check=True)
        used, m, digest = out.stdout.split()
        assert int(used) == int(threads)
        assert int(m) % 6 != 0  # the reshuffled epochs do straddle iterations
        digests.add(digest)
    assert len(digests) == 1


# ---- divergence -----------------------------------------------------------------------

def test_divergence_is_reported_with_seed_and_step():
    objective = diagonal_quadratic(3, seed=0)  # L = 1: SGD with eta = 3 diverges
    with pytest.warns(mn.DivergenceWarning, match="3 of 3 replicates diverged"):
        result = mn.simulate(objective, mn.MLA([], 3.0), 2000, replicates=3, seed=4)
    assert [(event.replicate, event.seed) for event in result.diverged] == [(0, 4), (1, 4), (2, 4)]
    assert all(0 < event.step <= 2000 for event in result.diverged)
    assert result.grad_norm_sq.count == 0 and np.all(np.isnan(result.average_grad_norm_sq))
    row = result.grad_norm_sq_records[0]
    assert np.all(np.isfinite(row[:result.diverged[0].step]))
    assert np.all(np.isnan(row[result.diverged[0].step:]))


def quartic():
    """A user-defined objective, f(x) = sum x^4 / 4: not globally smooth, so noise can blow it up."""
    from numba import njit

    @njit
    def value(x, data):
        return np.sum(x ** 4) / 4

    @njit
    def grad(x, data, out):
        out[:] = x ** 3

    @njit
    def hvp(x, v, data, out):
        out[:] = 3 * x ** 2 * v

    return Objective("quartic", 1, (np.zeros(1),), value, grad, hvp, L=None,
                     L_reason="the Hessian 3x^2 is unbounded", f_low=0.0)


def test_partial_divergence_is_excluded_loudly():
    objective = quartic()
    with pytest.warns(mn.DivergenceWarning) as caught:
        result = mn.simulate(objective, mn.MLA([], 0.5), 200, replicates=64, oracle=mn.GaussianNoise(1.0))
    assert "the summaries exclude them" in str(caught[0].message)
    diverged = {event.replicate for event in result.diverged}
    assert 0 < len(diverged) < 64
    alive = [r for r in range(64) if r not in diverged]
    assert result.grad_norm_sq.count == len(alive)
    np.testing.assert_allclose(result.grad_norm_sq.mean, result.grad_norm_sq_records[alive].mean(axis=0))


def test_json_form_is_valid_json():
    result = run([(2, 0.5)], 0.1, 3)
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"config", "loss", "grad_norm_sq", "diverged"}
    assert len(data["loss"]["mean"]) == 4 and data["config"]["optimizer"]["spec"] == "2:0.5"


_CACHED_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, mla_numeric as mn
from mla_numeric.engine import _advance
from user_objective import objective
result = mn.simulate(objective, mn.MLA([(2, 0.5)], 0.1), 3, replicates=1, x0=np.ones(2))
print(result.final[0, 0], sum(_advance.stats.cache_hits.values()))
"""

_USER_OBJECTIVE = """
import numpy as np
from numba import njit
from mla_numeric.objectives import Objective

@njit
def value(x, data):
    return SCALE * 0.5 * np.sum(x ** 2)

@njit
def grad(x, data, out):
    out[:] = SCALE * x

@njit
def hvp(x, v, data, out):
    out[:] = SCALE * v

SCALE = {scale}
objective = Objective("user", 2, (np.zeros(1),), value, grad, hvp, L={scale}, f_low=0.0)
"""


def test_kernel_cache_is_reused_and_never_stale(tmp_path):
    # A second process finds the compiled kernel in numba's cache; editing the objective's source
    # gives it a new key, so the edit takes effect instead of a stale cached kernel.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def run_with(scale):
        (tmp_path / "user_objective.py").write_text(_USER_OBJECTIVE.format(scale=scale))
        out = subprocess.run([sys.executable, "-c", _CACHED_RUN, str(tmp_path)], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        return float(out[0]), int(out[1])

    first, hits = run_with(1.0)
    assert hits == 0 and first == pytest.approx(((1 - 0.1) ** 2 * 0.5 + 0.5) ** 3)
    again, hits = run_with(1.0)
    assert again == first and hits > 0
    edited, hits = run_with(2.0)
    assert hits == 0 and edited == pytest.approx(((1 - 0.2) ** 2 * 0.5 + 0.5) ** 3)


def scaled_quadratic(scale):
    """A factory: its functions share names and source and differ only in the captured scale."""
    from numba import njit

    @njit
    def value(x, data):
        return scale * 0.5 * np.sum(x ** 2)

    @njit
    def grad(x, data, out):
        out[:] = scale * x

    @njit
    def hvp(x, v, data, out):
        out[:] = scale * v

    return Objective("scaled", 1, (np.zeros(1),), value, grad, hvp, L=scale, f_low=0.0)


def test_objectives_from_one_factory_do_not_share_a_kernel():
    # Each step multiplies x by 1 - eta * scale; a kernel keyed by names alone would reuse the first.
    for scale in (1.0, 2.0):
        result = mn.simulate(scaled_quadratic(scale), mn.MLA([], 0.1), 1, x0=[1.0])
        assert result.final[0, 0] == pytest.approx(1 - 0.1 * scale)


def alpha_one_reduction_holds(simulator) -> bool:
    """The check behind test_all_alpha_one_is_sgd, for any simulator(layers, lr, T) -> phi_0..phi_T."""
    return np.allclose(simulator([(5, 1.0)], 0.1, 4), simulator([], 0.1, 20)[::5], rtol=1e-12, atol=1e-14)


def test_reductions_catch_an_off_by_one_synchronisation():
    objective, oracle = diagonal_quadratic(3, seed=2), mn.GaussianNoise(0.5)

    def engine(layers, lr, T):
        return mn.simulate(objective, mn.MLA(layers, lr), T, replicates=1, oracle=oracle, trajectory=True).trajectory[0]

    def late_sync(layers, lr, T):  # synchronises one fast step late: k + 1 steps per cycle
        shifted = [(k + 1, alpha) for k, alpha in layers]
        return naive.simulate(objective, shifted, lr, T, objective.start(), oracle)[2]

    assert alpha_one_reduction_holds(engine)
    assert not alpha_one_reduction_holds(late_sync)

"""The RDP accountant of DP-SGD (gradschool/trust/accountant.py) against Opacus's."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gradschool.trust import accountant as acc

# (σ, q, steps, δ, ε): ε as Opacus 1.6's RDPAccountant computes it (printed once with it, so
# the table is checked even where Opacus is not installed). The first rows are the settings of
# Opacus's MNIST example; the ninth is docs/trust.md's ε = 3 run.
SETTINGS = [
    (1.1, 0.004266666666666667, 14100, 1e-05, 2.6003429386103023),
    (1.3, 0.004, 3750, 1e-05, 0.9220489427696699),
    (0.7, 0.004, 11250, 1e-05, 6.092535247105583),
    (1.0, 0.01, 1000, 1e-06, 2.436693803022139),
    (4.0, 0.1, 100, 1e-05, 1.0817024008569973),
    (0.5, 0.02, 50, 0.001, 6.121422649889634),
    (2.0, 1.0, 10, 1e-05, 8.079406222420491),
    (0.8, 0.001, 100000, 1e-07, 3.541120645096194),
    (1.127, 0.008533333333333334, 4720, 1e-05, 2.994651481148818),
    (10.0, 0.5, 3, 1e-05, 0.341192368371164),
]


@pytest.mark.parametrize("sigma, q, steps, delta, eps", SETTINGS)
def test_epsilon_equals_opacus_table(sigma, q, steps, delta, eps):
    assert acc.epsilon(sigma, q, steps, delta) == pytest.approx(eps, rel=1e-9)


@pytest.mark.parametrize("sigma, q, steps, delta, eps", SETTINGS)
def test_rdp_and_epsilon_equal_opacus_live(sigma, q, steps, delta, eps):
    rdp_mod = pytest.importorskip("opacus.accountants.analysis.rdp", reason="Opacus not installed")
    from opacus.accountants import RDPAccountant

    orders = RDPAccountant.DEFAULT_ALPHAS
    assert tuple(orders) == acc.DEFAULT_ORDERS
    theirs = rdp_mod.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
    # NOTE: ~1e-9 apart at the smallest orders (α = 1.1), where the erfc series is longest.
    np.testing.assert_allclose(acc.compute_rdp(q, sigma, steps), theirs, rtol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the largest alpha"
        account = RDPAccountant()
        account.history = [(sigma, q, steps)]
        eps_opacus, order = account.get_privacy_spent(delta=delta)
    ours, our_order = acc.rdp_to_epsilon(orders, acc.compute_rdp(q, sigma, steps), delta)
    assert ours == pytest.approx(eps_opacus, rel=1e-9) and our_order == order


def test_noise_search_meets_the_target_like_opacus():
    q, steps, delta = 512 / 60000, 4720, 1e-5
    for target in (0.5, 1.0, 3.0, 8.0):
        sigma = acc.noise_multiplier_for(target, delta, q, steps)
        eps = acc.epsilon(sigma, q, steps, delta)
        assert target - 0.01 <= eps <= target  # Opacus's criterion: within 0.01 below
    utils = pytest.importorskip("opacus.accountants.utils", reason="Opacus not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus's doubling tries huge σ: "largest alpha"
        theirs = utils.get_noise_multiplier(
            target_epsilon=3.0, target_delta=delta, sample_rate=q, steps=steps
        )
    # Both bisections stop within 0.01 of ε = 3, so their σ agree to about 1%.
    assert acc.noise_multiplier_for(3.0, delta, q, steps) == pytest.approx(theirs, rel=0.01)


def test_closed_forms_and_limits():
    # No sampling (q = 1): the Gaussian mechanism's RDP α / (2σ²), times the steps.
    orders = [2.0, 3.5, 10.0]
    np.testing.assert_allclose(acc.compute_rdp(1.0, 2.0, 5, orders), [5 * a / 8 for a in orders])
    assert acc.epsilon(0.0, 0.01, 10, 1e-5) == math.inf  # no noise: no privacy
    assert acc.epsilon(1.0, 0.0, 10, 1e-5) == acc.epsilon_floor(1e-5)  # nobody sampled
    assert acc.epsilon(1.0, 0.01, 0, 1e-5) == 0.0  # no step taken: nothing spent


def test_fractional_orders_join_the_integer_ones_smoothly():
    # The two formulas for A_α (binomial sum for integers, erfc series otherwise) must agree
    # where they meet.
    for q, sigma in [(0.01, 1.0), (0.2, 0.7), (0.004, 3.0)]:
        at = acc.compute_rdp(q, sigma, 1, [3.0, 7.0])
        near = acc.compute_rdp(q, sigma, 1, [3.0 + 1e-7, 7.0 + 1e-7])
        np.testing.assert_allclose(near, at, rtol=1e-5)


def test_epsilon_moves_the_right_way():
    base = acc.epsilon(1.0, 0.01, 1000, 1e-5)
    assert acc.epsilon(1.5, 0.01, 1000, 1e-5) < base  # more noise: more private
    assert acc.epsilon(1.0, 0.02, 1000, 1e-5) > base  # more sampled: less private
    assert acc.epsilon(1.0, 0.01, 2000, 1e-5) > base  # more steps: less private
    assert acc.epsilon(1.0, 0.01, 1000, 1e-3) < base  # a larger δ buys a smaller ε


def test_unreachable_targets_are_refused():
    floor = acc.epsilon_floor(1e-5)
    assert 0.09 < floor < 0.11  # ~0.10 at the largest order, 63
    with pytest.raises(ValueError, match="smallest ε"):
        acc.noise_multiplier_for(0.05, 1e-5, 0.01, 100)
    with pytest.raises(ValueError):
        acc.noise_multiplier_for(-1, 1e-5, 0.01, 100)
    with pytest.raises(ValueError):
        acc.compute_rdp(1.5, 1.0, 10)
    with pytest.raises(ValueError):
        acc.rdp_to_epsilon([2.0], [0.1], 0.0)

"""How much privacy DP-SGD spends: the Rényi-DP accountant of the sampled Gaussian mechanism.

One step of DP-SGD is a *sampled Gaussian mechanism* (SGM): each training example joins the
batch independently with probability q (Poisson sampling), each example's gradient is clipped
to norm C, and Gaussian noise N(0, σ²C²) is added to their sum. σ is the *noise multiplier*.
Training is that mechanism repeated T times. The accountant answers: after T steps, which
(ε, δ)-differential privacy does the whole run have?

It works in three moves (Mironov 2017; Mironov, Talwar & Zhang 2019; Balle et al. 2020):

1. **Rényi DP of one step.** A mechanism M is (α, ρ)-RDP when, for every two data sets that
   differ in one example, the Rényi divergence of order α between M's output distributions is
   at most ρ. For the SGM, ρ(α) = log(A_α) / (α - 1) with (Mironov et al. 2019, section 3.3)

       A_α = E_{z ~ μ0} [ ((1 - q) + q μ1(z) / μ0(z))^α ],   μ0 = N(0, σ²), μ1 = N(1, σ²)

   which for an integer α is a finite binomial sum,

       A_α = Σ_{k=0..α} C(α, k) (1 - q)^(α-k) q^k exp((k² - k) / (2σ²)),

   and for a fractional α an infinite series of two parts split at z0 = σ² log(1/q - 1) + 1/2,
   each term weighted by an erfc (`_log_a_frac`).
2. **Composition.** RDP adds up over steps at each order: T steps give T ρ(α).
3. **Conversion to (ε, δ).** For every order (Balle et al. 2020, theorem 21)

       ε(α) = T ρ(α) + log((α - 1) / α) - (log δ + log α) / (α - 1),

   and the run's ε is the smallest over the orders tried. This is the conversion Opacus's
   `RDPAccountant` uses, over the same orders, so the numbers agree (tests/test_accountant.py).

Everything is computed in log space: the terms of A_α overflow a float long before ε does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "DEFAULT_ORDERS",
    "compute_rdp",
    "epsilon",
    "epsilon_floor",
    "noise_multiplier_for",
    "rdp_to_epsilon",
]

# The Rényi orders α tried (Opacus's RDPAccountant.DEFAULT_ALPHAS): dense between 1.1 and 10.9,
# where the best order lies for the usual ε of 0.5-10, then every integer up to 63.
DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
)

# A σ past which no search goes: the noise would be a million times the clipped gradient.
MAX_NOISE_MULTIPLIER = 1e6


# ---- log-space arithmetic -------------------------------------------------------------------


def _log_add(a: float, b: float) -> float:
    """log(e^a + e^b) without overflow."""
    lo, hi = min(a, b), max(a, b)
    if lo == -math.inf:
        return hi
    return hi + math.log1p(math.exp(lo - hi))


def _log_sub(a: float, b: float) -> float:
    """log(e^a - e^b) for a >= b; -inf when they are equal (log 0)."""
    if b == -math.inf:
        return a
    if a <= b:
        return -math.inf
    return a + math.log(-math.expm1(b - a))


def _log_erfc(x: float) -> float:
    """log(erfc(x)), accurate where erfc(x) itself would underflow (x past ~26).

    NOTE: math.erfc is accurate to the last bits for moderate x; beyond, the asymptotic series
    erfc(x) ~ exp(-x²) / (x sqrt(pi)) (1 - 1/(2x²) + 3/(4x⁴) - 15/(8x⁶) + 105/(16x⁸)) is
    accurate to ~1e-13 at x = 25 and better above.
    """
    if x < 25.0:
        return math.log(math.erfc(x))
    inv = 1.0 / (x * x)
    series = 1.0 - inv / 2 + 3 * inv**2 / 4 - 15 * inv**3 / 8 + 105 * inv**4 / 16
    return -x * x - math.log(x) - 0.5 * math.log(math.pi) + math.log(series)


# ---- step 1: RDP of one step of the sampled Gaussian mechanism ------------------------------


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    """log(A_α) for an integer α: the binomial sum, term by term in log space."""
    log_a = -math.inf
    for k in range(alpha + 1):
        log_term = (
            math.log(math.comb(alpha, k))
            + k * math.log(q)
            + (alpha - k) * math.log1p(-q)
            + (k * k - k) / (2 * sigma**2)
        )
        log_a = _log_add(log_a, log_term)
    return log_a


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    """log(A_α) for a fractional α (Mironov, Talwar & Zhang 2019, section 3.3).

    The expectation is split at z0, where the two Gaussians' likelihood ratio makes the two
    binomial expansions converge; term i of each part is

        part 0: C(α, i) q^i (1-q)^(α-i) exp((i² - i) / 2σ²) · erfc((i - z0) / (√2 σ)) / 2
        part 1: C(α, i) q^(α-i) (1-q)^i exp((j² - j) / 2σ²) · erfc((z0 - j) / (√2 σ)) / 2

    with j = α - i. For a fractional α the coefficients C(α, i) change sign once i > α, so the
    positive and negative terms are summed apart (in log space) and subtracted at the end. The
    series stops when both terms fall below e^-30 (relative to 1: A_α >= 1 always).
    """
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    pos0 = neg0 = pos1 = neg1 = -math.inf
    coef, i = 1.0, 0  # C(α, 0) = 1; C(α, i) = C(α, i-1) (α - i + 1) / i
    while True:
        j = alpha - i
        log_coef = math.log(abs(coef))
        log_t0 = log_coef + i * math.log(q) + j * math.log1p(-q)
        log_t1 = log_coef + j * math.log(q) + i * math.log1p(-q)
        log_e0 = math.log(0.5) + _log_erfc((i - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (i * i - i) / (2 * sigma**2) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * sigma**2) + log_e1
        if coef > 0:
            pos0, pos1 = _log_add(pos0, log_s0), _log_add(pos1, log_s1)
        else:
            neg0, neg1 = _log_add(neg0, log_s0), _log_add(neg1, log_s1)
        if max(log_s0, log_s1) < -30:
            break
        i += 1
        coef *= (alpha - i + 1) / i
    return _log_add(_log_sub(pos0, neg0), _log_sub(pos1, neg1))


def _rdp_one_step(q: float, sigma: float, alpha: float) -> float:
    """ρ(α) of one step; +inf when there is no privacy (σ = 0)."""
    if q == 0:
        return 0.0  # nobody is ever sampled: nothing leaks
    if sigma == 0:
        return math.inf
    if q == 1.0:
        return alpha / (2 * sigma**2)  # the plain Gaussian mechanism, no sampling
    if float(alpha).is_integer():
        return _log_a_int(q, sigma, int(alpha)) / (alpha - 1)
    return _log_a_frac(q, sigma, alpha) / (alpha - 1)


def compute_rdp(
    q: float, noise_multiplier: float, steps: int, orders: Sequence[float] = DEFAULT_ORDERS
) -> np.ndarray:
    """RDP of `steps` steps of the sampled Gaussian mechanism, one value per order: (len,).

    q: the sampling rate (each example is in a batch with probability q);
    noise_multiplier: σ, the noise's standard deviation over the clipping norm C.
    """
    _check_rate(q)
    if noise_multiplier < 0:
        raise ValueError(f"the noise multiplier must be >= 0, got {noise_multiplier}")
    rdp = np.array([_rdp_one_step(q, noise_multiplier, a) for a in orders], dtype=np.float64)
    return rdp * steps  # step 2: RDP composes by addition


# ---- step 3: from RDP to (ε, δ) --------------------------------------------------------------


def rdp_to_epsilon(
    orders: Sequence[float], rdp: Sequence[float] | np.ndarray, delta: float
) -> tuple[float, float]:
    """(ε, best order) for the target δ (Balle et al. 2020, theorem 21, as Opacus)."""
    _check_delta(delta)
    a = np.asarray(orders, dtype=np.float64)
    r = np.asarray(rdp, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf at σ = 0 orders: no privacy there
        eps = r - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    if np.isnan(eps).all():
        return math.inf, math.nan
    best = int(np.nanargmin(eps))
    return float(eps[best]), float(a[best])


def epsilon(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    orders: Sequence[float] = DEFAULT_ORDERS,
) -> float:
    """The ε of `steps` DP-SGD steps at noise σ and sampling rate q, for the given δ."""
    if steps == 0:
        return 0.0
    rdp = compute_rdp(sample_rate, noise_multiplier, steps, orders)
    return rdp_to_epsilon(orders, rdp, delta)[0]


def epsilon_floor(delta: float, orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """The smallest ε the conversion can certify at any noise: its value when ρ = 0.

    NOTE: even infinite noise leaves the conversion's own term log((α-1)/α) - (log δ + log α)
    / (α - 1), which is about 0.10 for δ = 1e-5 at the largest order 63. A target ε below it
    is out of reach however much noise is added.
    """
    return rdp_to_epsilon(orders, np.zeros(len(orders)), delta)[0]


def noise_multiplier_for(
    target_epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    tolerance: float = 0.01,
    orders: Sequence[float] = DEFAULT_ORDERS,
) -> float:
    """The noise multiplier σ that spends at most `target_epsilon` in `steps` steps.

    ε falls as σ grows, so the smallest σ with ε(σ) <= target is found by bisection: double an
    upper bound until it is private enough, then halve the interval until the ε reached is
    within `tolerance` below the target (Opacus's `get_noise_multiplier` criterion). Returns
    the upper end, whose ε is <= target. Raises ValueError when no σ reaches the target.
    """
    if target_epsilon <= 0:
        raise ValueError(f"the target ε must be > 0, got {target_epsilon}")
    floor = epsilon_floor(delta, orders)
    if target_epsilon <= floor:
        raise ValueError(
            f"ε = {target_epsilon} is below {floor:.3f}, the smallest ε the RDP accountant can "
            f"certify at δ = {delta} with any amount of noise"
        )
    low, high = 0.0, 1.0
    eps_high = epsilon(high, sample_rate, steps, delta, orders)
    while eps_high > target_epsilon:
        low, high = high, 2 * high
        if high > MAX_NOISE_MULTIPLIER:
            raise ValueError(
                f"ε = {target_epsilon} over {steps} steps at sampling rate {sample_rate:.4g} "
                f"would need a noise multiplier above {MAX_NOISE_MULTIPLIER:g}"
            )
        eps_high = epsilon(high, sample_rate, steps, delta, orders)
    while target_epsilon - eps_high > tolerance:
        mid = (low + high) / 2
        eps_mid = epsilon(mid, sample_rate, steps, delta, orders)
        if eps_mid <= target_epsilon:
            high, eps_high = mid, eps_mid
        else:
            low = mid
        if high - low < 1e-9 * high:  # ε(σ) jumps (the best order changes): as close as it gets
            break
    return high


def _check_rate(q: float) -> None:
    if not 0 <= q <= 1:
        raise ValueError(f"the sampling rate must be in [0, 1], got {q}")


def _check_delta(delta: float) -> None:
    if not 0 < delta < 1:
        raise ValueError(f"δ must be in (0, 1), got {delta}")

"""Differentially private training: DP-SGD (Abadi et al. 2016), on either engine.

A model trained on personal data can remember it: a language model may repeat a phone number
it saw once. Differential privacy (Dwork et al. 2006) bounds how much any ONE example can
change what training outputs, so nobody can tell from the trained model whether your record
was in the data. DP-SGD gets that bound by changing three things in the training step:

1. **Poisson sampling** (`data.poisson.PoissonLoader`): each example joins each batch
   independently with probability q = batch_size / N, so batch sizes vary around batch_size.
   The accountant's privacy amplification by sampling assumes exactly this.
2. **Per-example clipping** (`per_example.PerExampleGrads`, `DPSGD.privatize`): compute each
   example's own gradient g_i, rescale it to norm at most C (`max_grad_norm`):
   g_i * min(1, C / ||g_i||). Now no example can move the sum by more than C: its
   *sensitivity* is C.
3. **Gaussian noise**: add N(0, σ²C²) to every coordinate of the clipped sum, then divide by
   the expected batch size q N. σ is the noise multiplier.

    g = (Σ_i clip_C(g_i) + N(0, σ² C² I)) / (q N)        then the optimizer's usual step

The privacy spent is counted by the accountant (accountant.py): (ε, δ) after T steps at (q, σ).
Given a target ε, `plan_privacy` finds σ by bisection before training starts.

DP-SGD plugs into the one training loop through the extension points any user has, so the
loop knows nothing of privacy: a task (`PrivateTask`: Poisson batches, ε after each epoch) and
a callback (`PrivateSteps`: between backward and the optimizer's step, the gradients become
DP-SGD's). `private_training(config)` makes both from a config's [dp] section, and
`fit_private(config)` trains with them (what `gradschool train --dp` runs):

    config, task, steps = private_training(load_config("mnist_dp"))
    trainer = fit(config, task=task, callbacks=[steps])

NOTE: noise is drawn from the engine's ordinary seeded generator, which is reproducible and
right for learning, but not a cryptographically secure source (Opacus's secure_mode is).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradschool.config import Config, with_updates
from gradschool.data.poisson import PoissonLoader, poisson_schedule
from gradschool.errors import ConfigError
from gradschool.train.callbacks import Callback
from gradschool.train.tasks import ClassificationTask, build_task
from gradschool.train.trainer import Trainer, fit
from gradschool.trust import accountant
from gradschool.trust.per_example import PerExampleGrads

__all__ = [
    "DPSGD",
    "PrivacyPlan",
    "PrivateSteps",
    "PrivateTask",
    "fit_for",
    "fit_private",
    "plan_privacy",
    "private_training",
]


# ---- the private step: clip, sum, noise, scale ------------------------------------------------


class DPSGD:
    """Turns the gradients of one backward pass into DP-SGD's noised gradient.

        dp = DPSGD(model, noise_multiplier=1.1, max_grad_norm=1.0, expected_batch_size=256)
        loss.backward()          # any ordinary backward
        dp.privatize()           # p.grad := (Σ clip(g_i) + N(0, σ²C²)) / expected_batch_size
        optimizer.step()         # any optimizer

    `generator`: where the noise comes from (a torch.Generator, or a NumPy Generator for the
    engine); None = the engine's global seeded generator (saved in checkpoints).
    Clipping is Opacus's: factor_i = min(1, C / (||g_i|| + 1e-6)); C = inf means no clipping.
    """

    def __init__(
        self,
        model: Any,
        *,
        noise_multiplier: float,
        max_grad_norm: float,
        expected_batch_size: float,
        loss_reduction: str = "mean",
        generator: Any = None,
    ) -> None:
        if noise_multiplier < 0 or not max_grad_norm > 0 or not expected_batch_size > 0:
            raise ValueError(
                "need noise_multiplier >= 0, max_grad_norm > 0 and expected_batch_size > 0"
            )
        self.noise_multiplier, self.max_grad_norm = noise_multiplier, max_grad_norm
        self.expected_batch_size, self.generator = expected_batch_size, generator
        self.grads = PerExampleGrads(model, loss_reduction)
        self.ops = self.grads.ops
        self.last_norms: Any = None  # each example's gradient norm before clipping, (B,)

    def privatize(self) -> None:
        """Replace every parameter's .grad by the private gradient of the last batch."""
        ops = self.ops
        per_example = self.grads.compute()
        C, sigma = self.max_grad_norm, self.noise_multiplier
        batch = next((len(g) for _, g in per_example if g is not None), 0)
        if batch:
            # The norm of example i's WHOLE gradient (all parameters together), (B,).
            norms = sum(ops.flat_norms(g) ** 2 for _, g in per_example) ** 0.5
            self.last_norms = norms
            factor = (C / (norms + 1e-6)).clip(max=1.0) if math.isfinite(C) else norms * 0 + 1
        for p, g in per_example:
            like = ops.param(p)
            summed = ops.weighted_sum(factor, g) if batch else like * 0  # Σ_i factor_i g_i
            if sigma > 0:  # std σC; σ = 0 adds nothing (and C = inf would make it NaN)
                summed = summed + ops.normal(like, sigma * C, self.generator)
            ops.set_grad(p, summed / self.expected_batch_size)

    def remove(self) -> None:
        self.grads.remove()


# ---- the plan: a run's privacy settings, resolved ------------------------------------------------


class PrivacyPlan:
    """A run's privacy settings, resolved: q, σ, C, the steps, and ε spent so far."""

    def __init__(
        self,
        *,
        noise_multiplier: float,
        max_grad_norm: float,
        sample_rate: float,
        expected_batch_size: float,
        total_steps: int,
        delta: float,
        target_epsilon: float | None,
    ) -> None:
        self.noise_multiplier, self.max_grad_norm = noise_multiplier, max_grad_norm
        self.sample_rate, self.expected_batch_size = sample_rate, expected_batch_size
        self.total_steps, self.delta, self.target_epsilon = total_steps, delta, target_epsilon

    def epsilon(self, steps: int) -> float:
        """ε spent after `steps` steps (at this run's δ)."""
        return accountant.epsilon(self.noise_multiplier, self.sample_rate, steps, self.delta)

    def describe(self) -> str:
        eps = self.epsilon(self.total_steps)
        return (
            f"DP-SGD: noise multiplier {self.noise_multiplier:.4g}, clipping norm "
            f"{self.max_grad_norm:g}, sampling rate {self.sample_rate:.4g} (expected batch "
            f"{self.expected_batch_size:.0f}), {self.total_steps} steps -> epsilon "
            f"{eps:.3f} at delta {self.delta:g}"
        )


def plan_privacy(config: Config, num_train: int) -> PrivacyPlan:
    """Resolve `config.dp` for a run over `num_train` training examples; check it can work.

    Finds σ for the target ε when `dp.noise_multiplier` is not given. Raises a ConfigError,
    saying what to change, for settings that cannot reach the target.
    """
    dp, train = config.dp, config.train
    n = num_train
    q, batches = poisson_schedule(n, config.data.batch_size)
    steps = train.epochs * batches
    if train.max_steps is not None:
        steps = min(steps, train.max_steps)
    if dp.delta >= 1 / n:
        raise ConfigError(
            f"dp.delta = {dp.delta:g} is not below 1/N = {1 / n:.3g} (N = {n} training "
            f"examples): a δ that large allows leaking a whole example outright. Use a "
            f"δ well below 1/N, e.g. --delta {10 ** math.floor(math.log10(0.1 / n)):g}."
        )
    sigma = dp.noise_multiplier
    if sigma is None:
        if dp.target_epsilon is None:
            raise ConfigError(
                "DP-SGD needs a privacy target or a noise level: give --target-epsilon "
                "(e.g. 3) or --noise-multiplier (e.g. 1.1)."
            )
        try:
            sigma = accountant.noise_multiplier_for(dp.target_epsilon, dp.delta, q, steps)
        except ValueError as err:
            raise ConfigError(
                f"dp.target_epsilon = {dp.target_epsilon:g} cannot be reached: {err}. "
                f"Allow a larger ε, or train for fewer steps (now {steps}: "
                f"{train.epochs} epochs of {batches} batches) or with a smaller batch "
                f"(sampling rate q = {q:.4g}); every step spends privacy."
            ) from None
    elif dp.target_epsilon is not None:
        reached = accountant.epsilon(sigma, q, steps, dp.delta)
        if reached > dp.target_epsilon:
            raise ConfigError(
                f"with dp.noise_multiplier = {sigma:g} the run would spend epsilon = "
                f"{reached:.3f} over {steps} steps, more than dp.target_epsilon = "
                f"{dp.target_epsilon:g}. Leave --noise-multiplier out to have it found, raise "
                f"it, train for fewer steps, or allow a larger --target-epsilon."
            )
    return PrivacyPlan(
        noise_multiplier=sigma,
        max_grad_norm=dp.max_grad_norm,
        sample_rate=q,
        expected_batch_size=q * n,
        total_steps=steps,
        delta=dp.delta,
        target_epsilon=dp.target_epsilon,
    )


# ---- the two extensions: a task and a callback ------------------------------------------------


class PrivateTask(ClassificationTask):
    """Classification with DP-SGD's batches: Poisson-sampled, and ε after every epoch."""

    def __init__(self, data: Any, privacy: PrivacyPlan) -> None:
        super().__init__(data)
        self.privacy = privacy

    def batches(self, X: Any, y: Any, backend: Any, config: Any) -> PoissonLoader:
        # Each example joins each batch with probability batch_size / N: the privacy
        # accounting assumes exactly this sampling (docs/trust.md).
        return PoissonLoader(X, y, batch_size=config.data.batch_size, seed=config.train.seed)

    def metrics(self, trainer: Trainer) -> dict[str, Any]:
        row = super().metrics(trainer)
        row["epsilon"] = self.privacy.epsilon(trainer.state.step)  # spent so far: (ε, δ)-DP
        return row

    def report_lines(self, trainer: Trainer, last: dict[str, Any]) -> list[str]:
        """The privacy spent, for report.md."""
        p = self.privacy
        return [
            f"- privacy: DP-SGD, (epsilon {last['epsilon']:.3f}, delta {p.delta:g})-DP; noise "
            f"multiplier {p.noise_multiplier:.4g}, clipping norm {p.max_grad_norm:g}, "
            f"sampling rate {p.sample_rate:.4g}"
        ]


class PrivateSteps(Callback):
    """Makes every step a DP-SGD step: between backward and the optimizer's step, each
    parameter's .grad becomes (Σ clip(g_i) + noise) / expected batch size."""

    def __init__(self, privacy: PrivacyPlan, console: bool = False) -> None:
        self.privacy, self.console = privacy, console
        self.dp: DPSGD | None = None

    def on_setup(self, trainer: Trainer) -> None:
        if trainer.backend.world_size > 1:
            raise ConfigError(
                "DP-SGD cannot be combined with several processes (run DP-SGD in one process)."
            )
        p = self.privacy
        self.dp = DPSGD(
            trainer.model,
            noise_multiplier=p.noise_multiplier,
            max_grad_norm=p.max_grad_norm,
            expected_batch_size=p.expected_batch_size,
        )
        if self.console:
            print(p.describe(), flush=True)

    def on_before_step(self, trainer: Trainer) -> None:
        if self.dp is None:
            raise RuntimeError("PrivateSteps.on_setup has not run")
        self.dp.privatize()


def private_training(
    config: Config, data: Any = None, console: bool = False
) -> tuple[Config, PrivateTask, PrivateSteps]:
    """DP-SGD for a config with `dp.enabled`: (the config as resolved, the task, the callback).

    The resolved config records the noise level found for the target ε
    (`dp.noise_multiplier`), so the run's config.toml keeps it and a resumed run reuses it.
    """
    if not config.dp.enabled:
        raise ConfigError("private training needs dp.enabled = true (--dp) in its config.")
    _refuse_incompatible(config)
    task = build_task(config, data)
    if not isinstance(task, ClassificationTask):
        raise ConfigError(
            f"DP-SGD needs Poisson-sampled batches, but the {type(task).__name__} draws its "
            f"own: private training works for classification tasks."
        )
    privacy = plan_privacy(config, task.num_train)
    if config.dp.noise_multiplier is None:
        config = with_updates(config, {"dp.noise_multiplier": privacy.noise_multiplier})
    return config, PrivateTask(task.data, privacy), PrivateSteps(privacy, console)


def fit_private(
    config: Config,
    *,
    data: Any = None,
    run: Any = None,
    resume: bool | Path = False,
    callbacks: list[Callback] | None = None,
    console: bool = True,
    backend: Any = None,
) -> Trainer:
    """`train.trainer.fit` with DP-SGD plugged in: what `gradschool train --dp` runs."""
    config, task, steps = private_training(config, data, console)
    return fit(
        config,
        task=task,
        run=run,
        resume=resume,
        callbacks=[*(callbacks or []), steps],
        console=console,
        backend=backend,
    )


def fit_for(config: Config) -> Callable[..., Trainer]:
    """The fit a config asks for: `fit_private` when its [dp] section switches DP-SGD on,
    else the plain `train.trainer.fit` (the commands that train configs choose through it)."""
    return fit_private if config.dp.enabled else fit


def _refuse_incompatible(config: Config) -> None:
    """Settings that would break the privacy guarantee or the per-example gradients."""
    problems = []
    if config.train.l1:
        problems.append("train.l1 (its gradient would skip the clipping; use weight decay)")
    if config.optim.clip_grad_norm is not None:
        problems.append("optim.clip_grad_norm (DP-SGD clips each example: dp.max_grad_norm)")
    if config.train.compile:
        problems.append("train.compile (the per-example hooks need the eager model)")
    if config.model.name == "gpt":
        problems.append("model.name = gpt (it uses its position table outside a layer)")
    if problems:
        raise ConfigError(f"DP-SGD cannot be combined with {'; '.join(problems)}.")

"""Game AI: a policy-gradient agent that learns to balance a pole (CartPole-v1).

    gradschool rl train --algo a2c --engine numpy      # learn, log, checkpoint, plot
    gradschool rl play runs/<name> --episodes 10 --gif # watch it, print each return

Reinforcement learning has no labelled examples: an *agent* acts in an *environment*, gets
rewards, and must find the actions that bring the most reward in the long run. The policy
network maps an observation s (CartPole: cart position and velocity, pole angle and angular
velocity) to action probabilities pi(a | s) (push left, push right); the value network
estimates V(s), the return to expect from s. Both are plain MLPs (`models.mlp`), on either
engine.

Policy gradient (Williams 1992; Sutton & Barto, 2nd ed., ch. 13). Raise the log-probability of
each action taken in proportion to how much better than expected it turned out:

    loss = -mean_t[ log pi(a_t | s_t) * A_t ]          A_t = G_t - V(s_t), the advantage
         + value_coef * mean_t[ (V(s_t) - G_t)^2 ]     the value net learns to predict G_t
         - entropy_coef * mean_t[ H(pi(. | s_t)) ]     keep exploring: do not decide too soon

where G_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ... is the discounted return. Subtracting
the baseline V(s_t) does not change the expected gradient but shrinks its variance a lot.

- `reinforce`: REINFORCE with a learned baseline. `n_envs` whole episodes are played (side by
  side), then G_t is the Monte-Carlo return of the rest of each episode.
- `a2c`: advantage actor-critic, the synchronous A3C (Mnih et al. 2016). `n_envs` environments
  run continuously; every `n_steps` steps the agent learns from the n-step return
  G_t = r_t + ... + gamma^(n-1) r_{t+n-1} + gamma^n V(s_{t+n}): shorter, more frequent updates.

NOTE: CartPole-v1 stops an episode after 500 steps ("truncated"): that is a time limit, not a
failure, so the return there is *bootstrapped* with gamma V(s_last) rather than cut to zero
(Pardo et al. 2018, "Time limits in reinforcement learning"). A pole that falls ("terminated")
ends the return.

The loop here is its own (episodes and environment steps, not epochs over a data set), but it
uses the same parts as `gradschool train`: backends, `models.mlp`, the optimizers and schedules
of a config (`train/builders.py`), `nn.utils.clip_grad_norm_`, checkpoints and the run
directory (metrics.csv, plots/), and a tqdm progress bar.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gradschool.config import (
    OptimConfig,
    ScheduleConfig,
    apply_overrides,
    describe,
    setting,
    with_updates,
)
from gradschool.errors import CheckpointError, ConfigError, GradschoolError

SOLVED_RETURN = 475.0  # CartPole-v1's reward_threshold: mean return over 100 episodes

# ---- the config ----------------------------------------------------------------------------


def _hidden_sizes(sizes: list[int]) -> str | None:
    return None if all(n >= 1 for n in sizes) else "a list of layer widths, each >= 1"


@dataclass
class AgentConfig:
    """The learning algorithm and its networks."""

    algo: Literal["reinforce", "a2c"] = setting(
        "a2c", help="reinforce (with a learned baseline) or a2c (advantage actor-critic)"
    )
    env: str = setting("CartPole-v1", help="gymnasium environment id (discrete actions)")
    hidden: list[int] = setting(
        [64, 64], check=_hidden_sizes, help="hidden widths of the policy and value MLPs"
    )
    activation: Literal["relu", "tanh", "sigmoid", "gelu"] = setting(
        "tanh", help="non-linearity of both networks"
    )
    gamma: float = setting(0.99, ge=0, le=1, help="discount: a reward t steps ahead counts gamma^t")
    entropy_coef: float = setting(0.01, ge=0, help="weight of the entropy bonus (exploration)")
    value_coef: float = setting(0.5, ge=0, help="weight of the value network's squared error")
    normalize_advantages: bool | None = setting(
        None, help="scale each batch's advantages to mean 0, std 1; none = reinforce only"
    )
    n_envs: int = setting(8, ge=1, help="environments side by side (reinforce: episodes/update)")
    n_steps: int = setting(16, ge=1, help="a2c: steps of each environment per update")


@dataclass
class RLTrainConfig:
    """How long to learn, on which engine, and where the run goes."""

    engine: Literal["numpy", "torch"] = setting("numpy", help="the from-scratch engine or torch")
    dtype: Literal["float32", "float64"] = setting("float32", help="floating-point precision")
    seed: int = setting(0, ge=0, help="seeds the networks, the actions and the environments")
    env_steps: int = setting(
        300_000, ge=1, help="environment steps to learn from (the last update may pass it)"
    )
    target_return: float | None = setting(
        None, help="stop once the last 100 training episodes average this; none = never"
    )
    eval_episodes: int = setting(100, ge=1, help="episodes of the final evaluation")
    log_every: int = setting(
        10_000, ge=1, help="environment steps between log lines, metrics rows and checkpoints"
    )
    out_dir: str = setting("runs", help="folder that holds the run directories")
    run_name: str | None = setting(None, help="run directory name; none = generated")
    progress: Literal["auto", "on", "off"] = setting("auto", help="progress bar")


def _default_optim() -> OptimConfig:
    # Adam with clipping at 0.5 (as A2C implementations clip); momentum etc. are SGD's, unused.
    return OptimConfig(name="adam", lr=0.002, clip_grad_norm=0.5)


def _default_schedule() -> ScheduleConfig:
    # The learning rate falls linearly to 0 over train.env_steps: late updates only polish.
    return ScheduleConfig(name="linear", start_factor=1.0, end_factor=0.0)


# NOTE: one schedule step per SCHEDULE_UNIT environment steps, whatever the algorithm: an update
# is 128 steps of A2C but up to 4,000 of REINFORCE, so counting updates would give the two
# different schedules for the same budget.
SCHEDULE_UNIT = 1000


@dataclass
class RLConfig:
    """One reinforcement-learning run: `[agent]`, `[optim]`, `[schedule]`, `[train]`."""

    agent: AgentConfig = field(default_factory=AgentConfig)
    optim: OptimConfig = field(default_factory=_default_optim)
    schedule: ScheduleConfig = field(default_factory=_default_schedule)
    train: RLTrainConfig = field(default_factory=RLTrainConfig)


def load_rl_config(path: str | Path | None = None, overrides: list[str] = ()) -> RLConfig:
    """Defaults, then a TOML file (if given), then `--key value` overrides; validated."""
    config = RLConfig()
    if path is not None:
        from gradschool.config import tomllib  # the stdlib's, or tomli on Python 3.10

        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read the RL config {path}: {e}") from None
        config = with_updates(config, data)
    return apply_overrides(config, list(overrides))


def rl_describe() -> str:
    return describe(RLConfig())


# ---- environments ------------------------------------------------------------------------


def _gym() -> Any:
    try:
        import gymnasium
    except ImportError:
        raise GradschoolError(
            "reinforcement learning needs gymnasium (the standard environment library), which "
            "is not installed. Install it with `pip install 'gradschool[rl]'` (or "
            "`pip install 'gymnasium[classic-control]'`, which adds pygame for rendering)."
        ) from None
    return gymnasium


def make_env(env_id: str, render_mode: str | None = None) -> Any:
    """A gymnasium environment with discrete actions and flat observations."""
    gym = _gym()
    try:
        env = gym.make(env_id, render_mode=render_mode)
    except gym.error.Error as e:
        raise ConfigError(
            f"gymnasium cannot make the environment {env_id!r} ({e}). Use an id such as "
            f'CartPole-v1 or Acrobot-v1: agent.env = "CartPole-v1".'
        ) from None
    if not hasattr(env.action_space, "n") or len(env.observation_space.shape or ()) != 1:
        raise ConfigError(
            f"{env_id} has actions {env.action_space} and observations "
            f"{env.observation_space}; this agent needs discrete actions and a flat observation "
            f"vector (CartPole-v1, Acrobot-v1, LunarLander-v3...)."
        )
    return env


class Envs:
    """`n` environments stepped together; each one restarts by itself when its episode ends.

    Environment i is seeded once with `seed + i`; its later episodes follow from that seed.
    `step` returns, per environment, the reward, whether the episode ended, and (when it was
    cut by the time limit) the observation it was cut at, for bootstrapping.
    """

    def __init__(self, env_id: str, n: int, seed: int) -> None:
        self.envs = [make_env(env_id) for _ in range(n)]
        self.obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(self.envs)])
        self.returns = np.zeros(n)  # of the episodes in progress
        self.lengths = np.zeros(n, dtype=np.int64)

    @property
    def obs_dim(self) -> int:
        return int(self.envs[0].observation_space.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.envs[0].action_space.n)

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> dict[str, Any]:
        """Step environment i with actions[i] (only the `active` ones, when given)."""
        n = len(self.envs)
        rewards, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        cut_obs = np.zeros_like(self.obs)
        finished = []  # (return, length) of the episodes that ended in this step
        for i, env in enumerate(self.envs):
            if active is not None and not active[i]:
                continue
            obs, r, term, trunc, _ = env.step(int(actions[i]))
            rewards[i], terminated[i], truncated[i] = r, term, trunc and not term
            self.returns[i] += r
            self.lengths[i] += 1
            if term or trunc:
                cut_obs[i] = obs
                finished.append((float(self.returns[i]), int(self.lengths[i])))
                self.returns[i], self.lengths[i] = 0.0, 0
                obs, _ = env.reset()
            self.obs[i] = obs
        return {
            "rewards": rewards,
            "terminated": terminated,
            "truncated": truncated,
            "cut_obs": cut_obs,
            "finished": finished,
        }

    def close(self) -> None:
        for env in self.envs:
            env.close()


# ---- the maths: returns, advantages, the loss ---------------------------------------------


def discounted_returns(
    rewards: np.ndarray, dones: np.ndarray, last_value: np.ndarray | float, gamma: float
) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, with G_T = last_value, cut to r_t where an episode ended.

    rewards, dones: (T,) or (T, n_envs), time first. last_value: V(s_T), the value of the state
    after the last step (0 when the episode is over). Returns the same shape as rewards.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    dones = np.asarray(dones, dtype=bool)
    G = np.zeros_like(rewards)
    running = np.asarray(last_value, dtype=np.float64) * np.ones_like(rewards[0])
    for t in range(len(rewards) - 1, -1, -1):  # backwards: each return builds on the next
        running = rewards[t] + gamma * running * ~dones[t]
        G[t] = running
    return G


def advantages(returns: np.ndarray, values: np.ndarray, normalize: bool) -> np.ndarray:
    """A_t = G_t - V(s_t): how much better than expected. With `normalize`, rescaled to mean 0
    and std 1 over the batch (a per-update step size that does not depend on reward scale)."""
    A = np.asarray(returns, dtype=np.float64) - np.asarray(values, dtype=np.float64)
    if normalize and A.size > 1:
        A = (A - A.mean()) / (A.std() + 1e-8)
    return A


def policy_gradient_loss(
    F: Any,
    logits: Any,
    values: Any,
    actions: Any,
    returns: Any,
    adv: Any,
    entropy_coef: float,
    value_coef: float,
) -> tuple[Any, dict[str, Any]]:
    """The actor-critic objective of the module docstring, on either engine.

    logits (B, n_actions) and values (B,) carry gradients; actions (B,) int64, returns (B,) and
    adv (B,) are constants (the advantage is computed outside, so no gradient flows into the
    value net through the policy term). Returns (loss, {policy_loss, value_loss, entropy}).
    """
    log_probs = F.log_softmax(logits, dim=1)  # (B, A)
    log_prob_taken = log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)  # (B,)
    policy_loss = -(log_prob_taken * adv).mean()
    value_loss = ((values - returns) ** 2).mean()
    entropy = -(log_probs.exp() * log_probs).sum(dim=1).mean()  # H = -sum_a pi log pi
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# ---- the agent ----------------------------------------------------------------------------


class Agent:
    """A policy network and a value network on one backend, with one optimizer for both."""

    def __init__(self, config: RLConfig, obs_dim: int, n_actions: int) -> None:
        from gradschool.backends import get_backend
        from gradschool.models import mlp

        a = config.agent
        self.config = config
        self.backend = backend = get_backend(config.train.engine, config.train.dtype)
        backend.manual_seed(config.train.seed)
        self.policy = backend.cast_model(
            mlp(backend.nn, [obs_dim, *a.hidden, n_actions], a.activation)
        )
        self.value = backend.cast_model(mlp(backend.nn, [obs_dim, *a.hidden, 1], a.activation))
        self.obs_dim, self.n_actions = obs_dim, n_actions

    def parameters(self) -> list[Any]:
        return [*self.policy.parameters(), *self.value.parameters()]

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """pi(. | obs) for a batch of observations (n, obs_dim), as NumPy (n, n_actions)."""
        backend = self.backend
        with backend.no_grad():
            logits = backend.to_numpy(self.policy(backend.tensor(obs.astype(np.float32))))
        return _softmax(logits.astype(np.float64))

    def values(self, obs: np.ndarray) -> np.ndarray:
        """V(obs) for a batch, as NumPy (n,)."""
        backend = self.backend
        with backend.no_grad():
            v = backend.to_numpy(self.value(backend.tensor(obs.astype(np.float32))))
        return v.reshape(-1).astype(np.float64)

    def act(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        """One action per observation: sampled from pi, or its most likely action."""
        p = self.probs(obs)
        if greedy:
            return p.argmax(axis=1)
        u = rng.random(len(p))[:, None]  # inverse-CDF sampling, one uniform per row
        return np.minimum((u > p.cumsum(axis=1)).sum(axis=1), p.shape[1] - 1)

    def loss(
        self, obs: np.ndarray, actions: np.ndarray, returns: np.ndarray
    ) -> tuple[Any, dict[str, Any]]:
        """The objective on a batch of (s_t, a_t, G_t), with a graph for backward()."""
        backend, a = self.backend, self.config.agent
        x = backend.tensor(obs.astype(np.float32))
        logits = self.policy(x)  # (B, n_actions)
        values = self.value(x).reshape(-1)  # (B,)
        # NOTE: by default only REINFORCE normalises: its Monte-Carlo advantages swing from a
        # few units to a hundred as episodes lengthen, while A2C's n-step ones stay small, and
        # normalising A2C's small batches (128 steps) mostly adds noise (measured: docs/rl.md).
        normalize = a.normalize_advantages
        normalize = a.algo == "reinforce" if normalize is None else normalize
        adv = advantages(returns, backend.to_numpy(values.detach()), normalize)
        return policy_gradient_loss(
            backend.F,
            logits,
            values,
            backend.tensor(actions.astype(np.int64)),
            backend.tensor(returns.astype(np.float32)),
            backend.tensor(adv.astype(np.float32)),
            a.entropy_coef,
            a.value_coef,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "value": self.value.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(self.backend.numpy_to_state(state["policy"]))
        self.value.load_state_dict(self.backend.numpy_to_state(state["value"]))


# ---- collecting experience ----------------------------------------------------------------


def _bootstrap(agent: Agent, rewards: np.ndarray, out: dict[str, Any], gamma: float) -> None:
    """Fold gamma V(s_cut) into the reward of each step cut by the time limit (in place)."""
    if out["truncated"].any():
        cut = out["truncated"]
        rewards[cut] += gamma * agent.values(out["cut_obs"][cut])


def collect_a2c(agent: Agent, envs: Envs, rng: np.random.Generator) -> dict[str, Any]:
    """n_steps steps of every environment: the batch of one A2C update (time-major)."""
    T, gamma = agent.config.agent.n_steps, agent.config.agent.gamma
    obs, acts, rews, dones, finished = [], [], [], [], []
    for _ in range(T):
        obs.append(envs.obs.copy())
        a = agent.act(envs.obs, rng)
        out = envs.step(a)
        r = out["rewards"].copy()
        _bootstrap(agent, r, out, gamma)
        acts.append(a)
        rews.append(r)
        dones.append(out["terminated"] | out["truncated"])
        finished += out["finished"]
    # The state after the last step: its value stands for all the rewards not yet seen.
    G = discounted_returns(np.array(rews), np.array(dones), agent.values(envs.obs), gamma)
    return {
        "obs": np.concatenate(obs),  # (T * n_envs, obs_dim)
        "actions": np.concatenate(acts),
        "returns": G.reshape(-1),
        "steps": T * len(envs.envs),
        "finished": finished,
    }


def collect_episodes(
    agent: Agent, envs: Envs, rng: np.random.Generator, greedy: bool = False
) -> dict[str, Any]:
    """One whole episode in each environment, played side by side: REINFORCE's batch.

    An environment whose episode is over waits (it is not stepped) until all are over.
    """
    n, gamma = len(envs.envs), agent.config.agent.gamma
    running = np.ones(n, dtype=bool)
    obs: list[list] = [[] for _ in range(n)]
    actions: list[list] = [[] for _ in range(n)]
    rewards: list[list] = [[] for _ in range(n)]  # with the bootstrap folded in
    finished, steps = [], 0
    while running.any():
        before = envs.obs.copy()
        a = agent.act(before, rng, greedy)
        out = envs.step(a, active=running)
        r = out["rewards"].copy()
        _bootstrap(agent, r, out, gamma)
        for i in np.flatnonzero(running):
            obs[i].append(before[i])
            actions[i].append(a[i])
            rewards[i].append(r[i])
        steps += int(running.sum())
        finished += out["finished"]
        running &= ~(out["terminated"] | out["truncated"])
    # Monte-Carlo returns: each episode is complete, so nothing is left to estimate.
    returns = [discounted_returns(r, np.zeros(len(r), bool), 0.0, gamma) for r in rewards]
    return {
        "obs": np.concatenate([np.array(o) for o in obs]),  # (sum of lengths, obs_dim)
        "actions": np.concatenate([np.array(a) for a in actions]),
        "returns": np.concatenate(returns),
        "steps": steps,
        "finished": finished,
    }


# ---- the loop -------------------------------------------------------------------------------


@dataclass
class RLResult:
    """What `train_agent` returns: the agent, its history and where it was saved."""

    agent: Agent
    history: list[dict[str, Any]]  # one row per log interval (metrics.csv)
    episodes: list[dict[str, Any]]  # one row per finished training episode (episodes.csv)
    eval_returns: np.ndarray | None
    run: Any  # RunDir or None
    env_steps: int
    train_time: float
    solved_at: int | None  # env steps when the 100-episode mean first reached 475


def _create_run(config: RLConfig) -> Any:
    from gradschool.train.run import RunDir

    a, t = config.agent, config.train
    name = t.run_name or (
        f"rl-{a.env.lower()}-{a.algo}-{t.engine}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    path, n = Path(t.out_dir) / name, 2
    while path.exists() and any(path.iterdir()):
        path, n = Path(t.out_dir) / f"{name}-{n}", n + 1
    (path / "plots").mkdir(parents=True, exist_ok=True)
    return RunDir(path)


def _write_episodes(run: Any, episodes: list[dict[str, Any]]) -> None:
    from gradschool.train.checkpoint import atomic_write

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["episode", "env_steps", "return", "length"])
            writer.writeheader()
            writer.writerows(episodes)

    atomic_write(run.path / "episodes.csv", write)


def train_agent(config: RLConfig, run: Any = None, console: bool = True) -> RLResult:
    """Learn `config.agent.env` with `config.agent.algo`; log to `run` (a RunDir) if given.

    Each update: collect a batch of experience with the current policy, compute returns and
    advantages, one gradient step on the joint loss (each network's gradient clipped), then
    the schedule catches up with the environment steps taken. Stops after
    `train.env_steps` environment steps, or when `train.target_return` is reached.
    """
    from tqdm.auto import tqdm

    from gradschool.train.builders import build_optimizer, build_scheduler

    a, t = config.agent, config.train
    if config.schedule.name == "plateau":
        raise ConfigError(
            'schedule.name = "plateau" needs a validation metric, which RL does not have; '
            'use "linear", "cosine", "step"... (docs/rl.md).'
        )
    envs = Envs(a.env, a.n_envs, t.seed)
    agent = Agent(config, envs.obs_dim, envs.n_actions)
    backend = agent.backend
    optimizer = build_optimizer(backend, agent.parameters(), config.optim)
    units = max(math.ceil(t.env_steps / SCHEDULE_UNIT), 1)
    scheduler = build_scheduler(backend, optimizer, config.schedule, 1, units)
    rng = np.random.default_rng([t.seed, 0x52C])  # the agent's action samples
    clip = config.optim.clip_grad_norm
    if run is not None:
        run.write_config(config)
        run.write_info(config, {"env": a.env, "algo": a.algo})
    recent: deque[float] = deque(maxlen=100)
    history: list[dict[str, Any]] = []
    episodes: list[dict[str, Any]] = []
    env_steps, update, scheduled, solved_at = 0, 0, 0, None
    sums: dict[str, float] = {}
    show = t.progress == "on" or (t.progress == "auto" and sys.stderr.isatty())
    bar = tqdm(total=t.env_steps, unit="step", leave=False, disable=not show, dynamic_ncols=True)
    start = time.perf_counter()
    try:
        while env_steps < t.env_steps:
            update += 1
            lr = optimizer.param_groups[0]["lr"]
            batch = (
                collect_a2c(agent, envs, rng)
                if a.algo == "a2c"
                else collect_episodes(agent, envs, rng)
            )
            loss, parts = agent.loss(batch["obs"], batch["actions"], batch["returns"])
            optimizer.zero_grad()
            loss.backward()
            grad_norm = float("nan")
            if clip is not None:
                # NOTE: each network is clipped on its own. The value net's gradient is far
                # larger (returns near 100, squared errors near 10^4): clipped together, it
                # would set the joint norm and shrink the policy's gradient to almost nothing.
                clip_ = backend.nn.utils.clip_grad_norm_
                grad_norm = float(clip_(agent.policy.parameters(), clip))
                clip_(agent.value.parameters(), clip)
            optimizer.step()
            before, env_steps = env_steps, env_steps + batch["steps"]
            while scheduler is not None and scheduled < min(env_steps // SCHEDULE_UNIT, units):
                scheduler.step()
                scheduled += 1
            for ret, length in batch["finished"]:
                recent.append(ret)
                episodes.append(
                    {"episode": len(episodes) + 1, "env_steps": env_steps, "return": ret,
                     "length": length}
                )  # fmt: skip
                if solved_at is None and len(recent) == 100 and np.mean(recent) >= SOLVED_RETURN:
                    solved_at = env_steps
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + float(v.item())
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + grad_norm
            sums["n"] = sums.get("n", 0) + 1
            mean100 = float(np.mean(recent)) if recent else float("nan")
            bar.update(min(env_steps, t.env_steps) - before)
            bar.set_postfix(ret100=f"{mean100:.1f}", refresh=False)
            reached = t.target_return is not None and len(recent) == 100
            reached = reached and mean100 >= t.target_return
            log_now = env_steps // t.log_every > before // t.log_every
            if log_now or env_steps >= t.env_steps or reached:
                train_time = time.perf_counter() - start
                n = sums.pop("n")
                row = {
                    "update": update,
                    "env_steps": env_steps,
                    "episodes": len(episodes),
                    "return_mean100": mean100,
                    "lr": lr,
                    **{k: v / n for k, v in sums.items()},
                    "train_time": train_time,
                }
                sums = {}
                history.append(row)
                if console:
                    bar.clear()
                    print(
                        f"steps {env_steps:8d}  updates {update:5d}  episodes {len(episodes):5d}"
                        f"  return(100) {mean100:6.1f}  entropy {row['entropy']:.3f}"
                        f"  ({train_time:.1f}s)",
                        flush=True,
                    )
                if not math.isfinite(row["loss"]):
                    raise GradschoolError(
                        f"the RL loss became {row['loss']} at update {update}: the steps "
                        f"diverged. Lower the learning rate (--lr) or clip harder "
                        f"(--clip-grad-norm 0.5)."
                    )
                if run is not None:
                    _save(run, agent, optimizer, scheduler, update, env_steps, train_time)
                    run.write_metrics(history)
                    _write_episodes(run, episodes)
            if reached:
                break
    finally:
        bar.close()
        envs.close()
    train_time = time.perf_counter() - start
    eval_returns = evaluate(agent, t.eval_episodes, seed=t.seed + 1_000_000)
    result = RLResult(agent, history, episodes, eval_returns, run, env_steps, train_time, solved_at)
    if run is not None:
        _finish_run(run, config, result)
    return result


def evaluate(
    agent: Agent, episodes: int, seed: int, greedy: bool = True, n_envs: int = 10
) -> np.ndarray:
    """The undiscounted return of `episodes` fresh episodes (seeds seed, seed + 1, ...).

    greedy: take the most likely action (the policy's "decision"); else sample as in training.
    """
    rng = np.random.default_rng([seed, 0xE7A1])
    returns: list[float] = []
    env_id = agent.config.agent.env
    while len(returns) < episodes:
        n = min(n_envs, episodes - len(returns))
        envs = Envs(env_id, n, seed + len(returns))
        try:
            returns += [r for r, _ in collect_episodes(agent, envs, rng, greedy)["finished"]]
        finally:
            envs.close()
    return np.array(returns[:episodes])


def _save(run: Any, agent: Agent, optimizer: Any, scheduler: Any, update: int,
          env_steps: int, train_time: float) -> None:  # fmt: skip
    backend = agent.backend
    state = {
        "format": 1,
        **agent.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "state": {"update": update, "env_steps": env_steps, "train_time": train_time},
    }
    backend.save(state, run.checkpoint_path(backend.checkpoint_suffix))


def _finish_run(run: Any, config: RLConfig, result: RLResult) -> None:
    from gradschool import plots
    from gradschool.train.checkpoint import atomic_write_text

    a, t = config.agent, config.train
    returns = [row["return"] for row in result.episodes]
    plots.plot_episode_returns(
        returns,
        run.plot_path("returns.png"),
        title=f"{a.algo} on {a.env} ({t.engine} engine)",
        target=SOLVED_RETURN if a.env == "CartPole-v1" else None,
    )
    ev = result.eval_returns
    solved = (
        f"{result.solved_at} environment steps"
        if result.solved_at is not None
        else "not reached in training"
    )
    lines = [
        f"# RL run {run.path.name}",
        "",
        f"- {a.algo} on {a.env}, {t.engine} engine ({t.dtype}), seed {t.seed}",
        f"- {result.history[-1]['update'] if result.history else 0} updates, "
        f"{result.env_steps} environment steps, {len(result.episodes)} episodes, "
        f"{result.train_time:.1f} s",
        f"- mean return of 100 training episodes >= {SOLVED_RETURN:g}: {solved}",
        f"- evaluation, {len(ev)} episodes (greedy): mean {ev.mean():.1f}, std {ev.std():.1f}, "
        f"min {ev.min():.0f}, max {ev.max():.0f}",
        "",
        "![episode returns](plots/returns.png)",
        "",
    ]
    atomic_write_text(run.path / "report.md", "\n".join(lines))
    info = run.read_info()
    info.update(
        eval_mean_return=float(ev.mean()),
        eval_std_return=float(ev.std()),
        eval_episodes=len(ev),
        env_steps=result.env_steps,
        train_time=result.train_time,
        solved_at_env_steps=result.solved_at,
    )
    atomic_write_text(run.path / "run.json", json.dumps(info, indent=2) + "\n")


# ---- playing a trained agent ----------------------------------------------------------------


def load_agent(run_dir: str | Path) -> Agent:
    """The agent saved in a run directory of `gradschool rl train`."""
    from gradschool.train.run import RunDir

    run = RunDir.open(Path(run_dir))
    config = load_rl_config(run.config_path)
    env = make_env(config.agent.env)
    try:
        agent = Agent(config, int(env.observation_space.shape[0]), int(env.action_space.n))
    finally:
        env.close()
    path = run.find_checkpoint()
    try:
        agent.load_state_dict(agent.backend.load(path))
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"the checkpoint {path} does not match the run's config ({err}): was config.toml "
            f"edited? Play the run with its own config, or train a new one."
        ) from err
    return agent


def play(
    agent: Agent, episodes: int = 10, seed: int = 2_000_000, greedy: bool = True
) -> np.ndarray:
    """Returns of `episodes` episodes played one after another (seeds seed, seed + 1, ...)."""
    return evaluate(agent, episodes, seed, greedy, n_envs=1)


def record_episode(
    agent: Agent, path: str | Path, seed: int = 2_000_000, greedy: bool = True,
    max_frames: int = 300, every: int = 2,
) -> tuple[Path, float, str]:  # fmt: skip
    """Play one episode and write it as an animated GIF; return (path, its return, renderer).

    Frames come from gymnasium's `rgb_array` rendering (pygame draws them); without pygame,
    CartPole is drawn here from its state with Pillow. Every `every`-th step becomes a frame
    (CartPole runs at 50 steps per second, so every 2nd frame at 40 ms is real time), at most
    `max_frames` of them.
    """
    import os

    from PIL import Image

    # pygame starts SDL's audio too; with no sound card it prints an error. No sound is needed.
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = make_env(agent.config.agent.env, render_mode="rgb_array")
    rng = np.random.default_rng([seed, 0x61F])
    obs, _ = env.reset(seed=seed)
    renderer = "gymnasium"
    frames: list[Image.Image] = []

    def snap(step: int) -> None:
        nonlocal renderer
        if step % every or len(frames) >= max_frames:
            return
        try:
            rgb = env.render() if renderer == "gymnasium" else None
        except Exception:  # noqa: BLE001 - gymnasium.error.DependencyNotInstalled (no pygame)
            renderer, rgb = "pillow", None
        if rgb is None:
            renderer = "pillow"
            rgb = draw_cartpole(env.unwrapped.state)
        image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
        frames.append(image.resize((image.width // 2, image.height // 2)))

    total, step, done = 0.0, 0, False
    snap(step)
    while not done:
        action = agent.act(np.asarray(obs)[None], rng, greedy)[0]
        obs, r, term, trunc, _ = env.step(int(action))
        total += float(r)
        step += 1
        done = term or trunc
        snap(step)
    env.close()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    palette = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=32) for f in frames]
    palette[0].save(
        path, save_all=True, append_images=palette[1:], duration=20 * every, loop=0,
        optimize=True,
    )  # fmt: skip
    return path, total, renderer


def draw_cartpole(state: Any, width: int = 600, height: int = 400) -> np.ndarray:
    """A CartPole frame drawn from its state (x, x_dot, theta, theta_dot), like gymnasium's
    picture: the track, the cart, the pole at angle theta (radians from upright)."""
    from PIL import Image, ImageDraw

    x, _, theta, _ = (float(v) for v in state)
    scale = width / 4.8  # the world is 4.8 units wide (x in [-2.4, 2.4])
    track_y = height - 100
    cart_x = width / 2 + x * scale
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.line([(0, track_y), (width, track_y)], fill=(0, 0, 0))
    draw.rectangle([cart_x - 25, track_y - 15, cart_x + 25, track_y + 15], fill=(0, 0, 0))
    length = scale * 1.0  # the pole is 1.0 unit long (gymnasium's length = half of it)
    top = (cart_x + length * math.sin(theta), track_y - 15 - length * math.cos(theta))
    draw.line([(cart_x, track_y - 15), top], fill=(202, 152, 101), width=10)
    draw.ellipse([cart_x - 5, track_y - 20, cart_x + 5, track_y - 10], fill=(129, 132, 203))
    return np.asarray(image)


__all__ = [
    "Agent",
    "AgentConfig",
    "Envs",
    "RLConfig",
    "RLResult",
    "RLTrainConfig",
    "advantages",
    "collect_a2c",
    "collect_episodes",
    "discounted_returns",
    "draw_cartpole",
    "evaluate",
    "load_agent",
    "load_rl_config",
    "make_env",
    "play",
    "policy_gradient_loss",
    "record_episode",
    "rl_describe",
    "train_agent",
]

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

This module holds the algorithms: the settings, the environments, returns and advantages, the
loss, the agent and how it collects experience. `apps/rl_run.py` runs them: its loop is its own
(episodes and environment steps, not epochs over a data set), but it uses the same parts as
`gradschool train`: backends, `models.mlp`, the optimizers and schedules of a config
(`train/builders.py`), `nn.utils.clip_grad_norm_`, checkpoints and the run directory
(metrics.csv, plots/), and a tqdm progress bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gradschool import settings
from gradschool.config import OptimConfig, ScheduleConfig
from gradschool.errors import ConfigError, GradschoolError
from gradschool.settings import describe, setting

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
    # Adam with clipping at 0.5 (as A2C implementations clip), each network on its own: the
    # value net's gradient is far larger (returns near 100, squared errors near 10^4); clipped
    # together, it would set the joint norm and shrink the policy's to almost nothing.
    # Momentum etc. are SGD's, unused.
    return OptimConfig(name="adam", lr=0.002, clip_grad_norm=0.5, clip_per_module=True)


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


def load_rl_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> RLConfig:
    """Defaults, then a TOML file (if given), then `--key value` overrides; validated."""
    return settings.load(RLConfig, path, overrides, bundled=None, kind="RL config file")


def rl_describe(width: int | None = None) -> str:
    """Every RL setting with its default, type and help (for `gradschool rl train --help`),
    wrapped to `width` columns when given."""
    return describe(RLConfig(), width=width)


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


def actor_critic(nn: Any, obs_dim: int, n_actions: int, hidden: list[int], activation: str) -> Any:
    """The policy and value networks as ONE module (on either engine's `nn`): one set of
    parameters for the optimizer, one state_dict for the checkpoint, and children `policy` and
    `value`, which the loop clips one by one (optim.clip_per_module)."""
    from gradschool.models import mlp

    class ActorCritic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = mlp(nn, [obs_dim, *hidden, n_actions], activation)  # logits of pi(a|s)
            self.value = mlp(nn, [obs_dim, *hidden, 1], activation)  # V(s)

        def forward(self, obs: Any) -> tuple[Any, Any]:
            return self.policy(obs), self.value(obs).reshape(-1)  # (B, n_actions), (B,)

    return ActorCritic()


class Agent:
    """A policy network and a value network on one backend, with one optimizer for both.

    `backend`: the engine to build on, already seeded (the training loop's); None builds one
    for `config.train` and seeds it with `train.seed`.
    """

    def __init__(self, config: RLConfig, obs_dim: int, n_actions: int, backend: Any = None) -> None:
        from gradschool.backends import get_backend

        a = config.agent
        self.config = config
        if backend is None:
            backend = get_backend(config.train.engine, config.train.dtype)
            backend.manual_seed(config.train.seed)
        self.backend = backend
        self.net = backend.cast_model(
            actor_critic(backend.nn, obs_dim, n_actions, a.hidden, a.activation)
        )
        self.policy, self.value = self.net.policy, self.net.value
        self.obs_dim, self.n_actions = obs_dim, n_actions

    def parameters(self) -> list[Any]:
        return list(self.net.parameters())  # the policy's, then the value net's

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
        # By default only REINFORCE normalises, as its usual implementations do: its
        # Monte-Carlo advantages grow from a few units to a hundred as episodes lengthen,
        # while A2C's n-step ones stay small. (On CartPole either choice works for both
        # algorithms: see the ablation in docs/rl.md.)
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
    returns = [discounted_returns(np.array(r), np.zeros(len(r), bool), 0.0, gamma) for r in rewards]
    return {
        "obs": np.concatenate([np.array(o) for o in obs]),  # (sum of lengths, obs_dim)
        "actions": np.concatenate([np.array(a) for a in actions]),
        "returns": np.concatenate(returns),
        "steps": steps,
        "finished": finished,
    }


# ---- evaluation ---------------------------------------------------------------------------


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


__all__ = [
    "SOLVED_RETURN",
    "Agent",
    "AgentConfig",
    "Envs",
    "RLConfig",
    "RLTrainConfig",
    "advantages",
    "collect_a2c",
    "collect_episodes",
    "discounted_returns",
    "evaluate",
    "load_rl_config",
    "make_env",
    "policy_gradient_loss",
    "rl_describe",
]

"""Game AI: returns and advantages on a hand-worked episode, the policy-gradient loss on both
engines, experience collection (time limits bootstrapped), and short CartPole runs."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from gradschool.apps import rl, rl_run
from gradschool.backends import get_backend
from gradschool.cli import main
from gradschool.errors import ConfigError, GradschoolError


def needs_gymnasium():
    return pytest.importorskip("gymnasium", reason="install the [rl] extra: pip install gymnasium")


# ---- the maths on a hand-worked two-step episode --------------------------------------------
#
# Two steps, rewards r = (1, 1), gamma = 0.9, the episode ends after step 2:
#   G_1 = 1,  G_0 = 1 + 0.9 * 1 = 1.9
# The value net says V = (0.5, 0.2), so the advantages are A = G - V = (1.4, 0.8).
# The policy's logits are (0, 0) then (ln 3, 0): pi = (1/2, 1/2) then (3/4, 1/4); the agent
# took action 0, then action 1, so log pi(a_t | s_t) = (ln 1/2, ln 1/4), and
#   policy loss  = -(1.4 ln 1/2 + 0.8 ln 1/4) / 2         = (1.4 ln 2 + 1.6 ln 2) / 2 = 1.5 ln 2
#   value loss   = ((0.5 - 1.9)^2 + (0.2 - 1)^2) / 2      = (1.96 + 0.64) / 2 = 1.3
#   entropy      = (ln 2 + H(3/4, 1/4)) / 2,   H(3/4, 1/4) = -(3/4 ln 3/4 + 1/4 ln 1/4)
# and d(policy loss)/d(logits_t) = -A_t / 2 * (onehot(a_t) - pi_t):
#   t = 0: -0.7 * ((1, 0) - (1/2, 1/2)) = (-0.35, 0.35)
#   t = 1: -0.4 * ((0, 1) - (3/4, 1/4)) = (0.3, -0.3)
# d(value_coef * value loss)/dV = value_coef * (V - G) = 0.5 * (-1.4, -0.8) = (-0.7, -0.4).


def test_discounted_returns_by_hand():
    assert rl.discounted_returns([1.0, 1.0], [False, True], 0.0, 0.9).tolist() == [1.9, 1.0]
    # An episode ends after step 1 (done), the next one goes on past step 2: its tail is
    # bootstrapped with last_value. G_2 = 1 + 0.5 * 10 = 6, G_1 = 1, G_0 = 1 + 0.5 * 1 = 1.5.
    G = rl.discounted_returns([1.0, 1.0, 1.0], [False, True, False], 10.0, 0.5)
    assert G.tolist() == [1.5, 1.0, 6.0]
    # Time-major batches of several environments: each column on its own.
    G = rl.discounted_returns(np.ones((2, 3)), np.zeros((2, 3), bool), np.array([0, 1, 2]), 0.5)
    assert G.tolist() == [[1.5, 1.75, 2.0], [1.0, 1.5, 2.0]]


def test_advantages_by_hand():
    A = rl.advantages([1.9, 1.0], [0.5, 0.2], normalize=False)
    np.testing.assert_allclose(A, [1.4, 0.8])
    np.testing.assert_allclose(rl.advantages([1.9, 1.0], [0.5, 0.2], normalize=True), [1, -1])


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_policy_gradient_loss_by_hand(engine):
    if engine == "torch":
        pytest.importorskip("torch")
    backend = get_backend(engine, "float64")
    logits = backend.tensor(np.array([[0.0, 0.0], [math.log(3.0), 0.0]]))
    values = backend.tensor(np.array([0.5, 0.2]))
    logits.requires_grad_(True)
    values.requires_grad_(True)
    G = np.array([1.9, 1.0])
    A = rl.advantages(G, backend.to_numpy(values.detach()), normalize=False)
    loss, parts = rl.policy_gradient_loss(
        backend.F, logits, values, backend.tensor(np.array([0, 1])), backend.tensor(G),
        backend.tensor(A), entropy_coef=0.0, value_coef=0.5,
    )  # fmt: skip
    H = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert float(parts["policy_loss"].item()) == pytest.approx(1.5 * math.log(2.0))
    assert float(parts["value_loss"].item()) == pytest.approx(1.3)
    assert float(parts["entropy"].item()) == pytest.approx((math.log(2.0) + H) / 2)
    assert float(loss.item()) == pytest.approx(1.5 * math.log(2.0) + 0.5 * 1.3)
    loss.backward()
    np.testing.assert_allclose(backend.to_numpy(logits.grad), [[-0.35, 0.35], [0.3, -0.3]])
    np.testing.assert_allclose(backend.to_numpy(values.grad), [-0.7, -0.4])


def test_agent_loss_is_the_same_on_both_engines():
    pytest.importorskip("torch")
    config = rl.RLConfig()
    config.train.dtype = "float64"
    agents = {}
    for engine in ("numpy", "torch"):
        config.train.engine = engine
        agents[engine] = rl.Agent(config, obs_dim=4, n_actions=2)
    np_agent, torch_agent = agents["numpy"], agents["torch"]
    for net in ("policy", "value"):  # the same weights in both
        state = np_agent.backend.state_to_numpy(getattr(np_agent, net).state_dict())
        getattr(torch_agent, net).load_state_dict(torch_agent.backend.numpy_to_state(state))
    rng = np.random.default_rng(0)
    obs, actions, returns = rng.normal(size=(6, 4)), rng.integers(0, 2, 6), rng.normal(size=6)
    results = {}
    for engine, agent in agents.items():
        loss, _ = agent.loss(obs, actions, returns)
        loss.backward()
        grads = [agent.backend.to_numpy(p.grad) for p in agent.parameters()]
        results[engine] = (float(loss.item()), grads)
    assert results["numpy"][0] == pytest.approx(results["torch"][0], rel=1e-6)
    for g_np, g_torch in zip(results["numpy"][1], results["torch"][1]):
        np.testing.assert_allclose(g_np, g_torch, rtol=1e-5, atol=1e-6)


# ---- collecting experience, on a fake environment (no gymnasium needed) ----------------------


class _Space:
    def __init__(self, shape=None, n=None):
        self.shape, self.n = shape, n


class CountingEnv:
    """Observation (t, 1); reward 1 per step; action 1 at t = 1 ends the episode (terminated);
    otherwise the time limit cuts it after 3 steps (truncated)."""

    observation_space = _Space(shape=(2,))
    action_space = _Space(n=2)

    def reset(self, seed=None):
        self.t = 0
        return np.array([0.0, 1.0]), {}

    def step(self, action):
        self.t += 1
        terminated = self.t == 2 and action == 1
        return np.array([float(self.t), 1.0]), 1.0, terminated, self.t >= 3, {}

    def close(self):
        pass


@pytest.fixture
def fake_env(monkeypatch):
    monkeypatch.setattr(rl, "make_env", lambda env_id, render_mode=None: CountingEnv())


def _agent(**agent):
    config = rl.RLConfig()
    for k, v in agent.items():
        setattr(config.agent, k, v)
    return rl.Agent(config, obs_dim=2, n_actions=2)


def test_collect_episodes_bootstraps_only_the_time_limit(fake_env, monkeypatch):
    agent = _agent(n_envs=2, gamma=0.5)
    monkeypatch.setattr(agent, "values", lambda obs: np.full(len(obs), 8.0))
    # env 0 always pushes 0 (cut at 3 steps), env 1 pushes 1 (falls at step 2).
    monkeypatch.setattr(agent, "act", lambda obs, rng, greedy=False: np.array([0, 1]))
    envs = rl.Envs("fake", 2, seed=0)
    batch = rl.collect_episodes(agent, envs, np.random.default_rng(0))
    assert batch["steps"] == 5 and sorted(batch["finished"]) == [(2.0, 2), (3.0, 3)]
    # env 0: rewards 1, 1, 1 + 0.5 * V(cut) = 5 -> G = (1 + 0.5 (1 + 0.5 * 5), ...) = (2.75, 3.5, 5)
    # env 1: rewards 1, 1, terminated -> G = (1.5, 1)
    assert batch["returns"].tolist() == [2.75, 3.5, 5.0, 1.5, 1.0]
    assert batch["obs"].shape == (5, 2) and batch["actions"].tolist() == [0, 0, 0, 1, 1]


def test_collect_a2c_is_time_major_and_bootstraps_the_tail(fake_env, monkeypatch):
    agent = _agent(n_envs=2, n_steps=2, gamma=0.5)
    monkeypatch.setattr(agent, "values", lambda obs: np.full(len(obs), 4.0))
    monkeypatch.setattr(agent, "act", lambda obs, rng, greedy=False: np.array([0, 1]))
    envs = rl.Envs("fake", 2, seed=0)
    batch = rl.collect_a2c(agent, envs, np.random.default_rng(0))
    # env 0 goes on: G = (1 + 0.5 (1 + 0.5 * 4), 1 + 0.5 * 4) = (2.5, 3); env 1 falls at step 2.
    assert batch["returns"].tolist() == [2.5, 1.5, 3.0, 1.0]  # (t0 e0, t0 e1, t1 e0, t1 e1)
    assert batch["steps"] == 4 and batch["finished"] == [(2.0, 2)]


def test_sampled_actions_follow_the_policy(fake_env, monkeypatch):
    agent = _agent()
    monkeypatch.setattr(agent, "probs", lambda obs: np.tile([0.2, 0.8], (len(obs), 1)))
    a = agent.act(np.zeros((20_000, 2)), np.random.default_rng(0))
    assert a.mean() == pytest.approx(0.8, abs=0.01)
    assert (agent.act(np.zeros((3, 2)), None, greedy=True) == 1).all()


def test_missing_gymnasium_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # import gymnasium now fails
    with pytest.raises(GradschoolError, match=r"gradschool\[rl\]"):
        rl.make_env("CartPole-v1")


def test_rl_config_overrides_and_errors(tmp_path):
    config = rl.load_rl_config(None, ["--algo", "reinforce", "--engine", "torch", "--lr", "0.01"])
    assert (config.agent.algo, config.train.engine, config.optim.lr) == ("reinforce", "torch", 0.01)
    path = tmp_path / "a.toml"
    path.write_text('[agent]\nalgo = "reinforce"\nhidden = [32]\n[train]\nenv_steps = 7\n')
    config = rl.load_rl_config(path, ["--env-steps", "9"])
    assert config.agent.hidden == [32] and config.train.env_steps == 9
    with pytest.raises(ConfigError, match="algo"):
        rl.load_rl_config(None, ["--algo", "dqn"])


def test_cartpole_drawing_without_pygame():
    frame = rl_run.draw_cartpole([0.5, 0.0, 0.2, 0.0])
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    assert (frame != 255).any()


# ---- CartPole (needs gymnasium) -------------------------------------------------------------


def test_short_a2c_run_beats_a_random_policy():
    needs_gymnasium()
    config = rl.load_rl_config(
        None, ["--env-steps", str(60 * 8 * 16), "--eval-episodes", "20", "--progress", "off"]
    )
    result = rl_run.train_agent(config, console=False)
    random_agent = rl.Agent(config, 4, 2)
    random_agent.probs = lambda obs: np.full((len(obs), 2), 0.5)  # a coin flip
    random_returns = rl.evaluate(random_agent, 20, seed=config.train.seed + 1_000_000, greedy=False)
    assert result.eval_returns.mean() > 2 * random_returns.mean()
    assert result.env_steps == 60 * 8 * 16


def test_rl_cli_train_then_play_with_gif(tmp_path, capsys):
    needs_gymnasium()
    args = ["rl", "train", "--algo", "reinforce", "--env-steps", "100", "--n-envs", "2",
            "--eval-episodes", "2", "--progress", "off", "--out-dir", str(tmp_path),
            "--run-name", "r", "--log-every", "1"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Evaluation, 2 episodes" in out
    run = tmp_path / "r"
    for name in ("config.toml", "metrics.csv", "episodes.csv", "report.md", "checkpoint.npz"):
        assert (run / name).exists(), name
    assert (run / "plots" / "returns.png").exists()
    gif = tmp_path / "ep.gif"
    assert main(["rl", "play", str(run), "--episodes", "2", "--gif", str(gif)]) == 0
    out = capsys.readouterr().out
    assert out.count("episode ") >= 2 and "mean return" in out
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    assert main(["rl", "play", str(tmp_path / "nope")]) == 1

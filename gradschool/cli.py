"""The `gradschool` command. Thin on purpose: one function per subcommand, each parsing its
arguments and calling the library, so everything the CLI does can also be done from Python.

    gradschool train [--config FILE] [--resume RUN_DIR] [--key value ...]
    gradschool eval RUN_DIR
    gradschool data list | verify
    gradschool gradcheck
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable

from gradschool import __version__
from gradschool.errors import GradschoolError

# ---- train ------------------------------------------------------------------------------------


def _train(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import apply_overrides, load_config
    from gradschool.train.run import RunDir
    from gradschool.train.trainer import fit

    if args.resume:
        run = RunDir.open(args.resume)
        config = apply_overrides(run.load_config(), overrides)
        print(f"Resuming {run.path} ({config.train.engine} engine)", flush=True)
        fit(config, run=run, resume=True)
        run.write_config(config)
    else:
        config = load_config(args.config or "seed_mlp", overrides)
        run = RunDir.create(config)
        print(
            f"Training {config.model.name} on {config.data.dataset} with the "
            f"{config.train.engine} engine -> {run.path}",
            flush=True,
        )
        fit(config, run=run)
    print(f"Run saved in {run.path} (report.md, metrics.csv, plots/)")
    return 0


def _train_epilog() -> str:
    from gradschool.config import Config, describe

    return "settings (override any with --key value or --section.key=value):\n" + textwrap.indent(
        describe(Config()), "  "
    )


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="a TOML file, or a bundled name (seed_mlp)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    p.epilog = _train_epilog()
    p.formatter_class = argparse.RawDescriptionHelpFormatter


# ---- eval -------------------------------------------------------------------------------------


def _eval(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.config import apply_overrides
    from gradschool.train.run import RunDir
    from gradschool.train.trainer import Trainer

    run = RunDir.open(args.run_dir)
    config = apply_overrides(run.load_config(), overrides)
    trainer = Trainer(config, console=False)
    trainer.load_checkpoint(run.find_checkpoint(), weights_only=True)
    data = trainer.data
    splits = [("test", data.X_test, data.y_test)]
    if data.X_val is not None:
        splits.insert(0, ("val", data.X_val, data.y_val))
    print(f"Run {run.path}: {config.model.name} on {config.data.dataset}, {config.train.engine}")
    for name, X, y in splits:
        result = trainer.evaluate(X, y)
        print(
            f"  {name:5s} {len(y):6d} examples  loss {result['loss']:.4f}  "
            f"accuracy {100 * result['acc']:.2f}%"
        )
    return 0


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run directory, e.g. runs/<name>")


# ---- data -------------------------------------------------------------------------------------


def _data(args: argparse.Namespace, overrides: list[str]) -> int:
    from gradschool.data import list_datasets, verify_datasets

    if args.action == "list":
        rows = list_datasets(args.data_dir)
        print(f"{'name':16s} {'examples':>10s}  where")
        for row in rows:
            print(f"{row['name']:16s} {str(row.get('examples', '')):>10s}  {row['where']}")
        return 0
    rows = verify_datasets(args.data_dir, args.names or None)
    bad = 0
    for row in rows:
        ok = row["ok"]
        bad += not ok
        mark = "ok " if ok else "BAD"
        print(f"{mark} {row['file']}  expected {row['expected']}  found {row['actual']}")
    print("all files verified" if not bad else f"{bad} file(s) missing or corrupt")
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


# ---- main -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradschool",
        description="A deep-learning workbench for learners: a from-scratch NumPy engine and "
        "PyTorch behind one training loop.",
    )
    parser.add_argument("--version", action="version", version=f"gradschool {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_arguments, _, help) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help, description=help))
    return parser


# name -> (declare its arguments, run it, one line of help). Add new commands here.
COMMANDS: dict[str, tuple[Callable, Callable, str]] = {
    "train": (
        _train_args,
        _train,
        "train a model (default: the seed's MLP recipe on the embedded MNIST slice)",
    ),
    "eval": (_eval_args, _eval, "evaluate a run's checkpoint on its validation and test data"),
    "data": (_data_args, _data, "list the data sets and where they are, or verify checksums"),
    "gradcheck": (
        _gradcheck_args,
        _gradcheck,
        "check every engine op's backward against finite differences",
    ),
}

# Commands whose extra --key value arguments are config overrides.
_TAKES_OVERRIDES = {"train", "eval"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if extra and args.command not in _TAKES_OVERRIDES:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return COMMANDS[args.command][1](args, extra) or 0
    except GradschoolError as err:
        print(f"gradschool {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Every finished epoch is saved: continue with "
            "`gradschool train --resume <run dir>` (the directory printed above).",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

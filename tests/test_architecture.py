"""The layers hold (docs/architecture.md): no import cycles, no import up a layer, no module
using another's private names - except the few listed, with reasons, in
scripts/check_imports.py. A new knot fails here, with the checker's table saying where."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location(
        "check_imports", ROOT / "scripts" / "check_imports.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("check_imports", None)


def test_the_package_has_no_new_cycles_upward_imports_or_private_names(checker) -> None:
    text, problems = checker.report(ROOT)
    assert problems == 0, text


def test_every_module_is_in_a_layer(checker) -> None:
    for module in checker.modules(ROOT):
        checker.layer_of(module)  # raises SystemExit for a module in no layer


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"gradschool/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_checker_finds_each_kind_of_knot(checker, tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            # a cycle through a lazy import, and a type-only import that is not one
            "gradschool/backends.py": "def f():\n    from gradschool import models\n",
            "gradschool/models.py": "import gradschool.backends\n",
            "gradschool/data/__init__.py": "",
            "gradschool/data/loader.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from gradschool.data import poisson\n"
                # an upward import: the data layer reaching into the training loop
                "from gradschool.train.trainer import Trainer\n"
            ),
            "gradschool/data/poisson.py": (
                "from gradschool.data import loader\n"
                # private names, by import and by attribute
                "from gradschool.backends import _import_torch\n"
                "x = loader._shard\n"
            ),
            "gradschool/train/__init__.py": "",
            "gradschool/train/trainer.py": "class Trainer: ...\n",
        },
    )
    imports = checker.all_imports(root)
    assert checker.cycles(imports) == [["gradschool.backends", "gradschool.models"]]
    ups = {(u.importer, u.imported) for u in checker.upward(imports)}
    assert ups == {("gradschool.data.loader", "gradschool.train.trainer")}
    privs = {(p.importer, p.private) for p in checker.private_imports(imports)}
    assert privs == {
        ("gradschool.data.poisson", "_import_torch"),
        ("gradschool.data.poisson", "_shard"),
    }
    text, problems = checker.report(root)
    assert problems == 4 and "upward imports: 1" in text.lower()

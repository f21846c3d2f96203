"""gradschool: a deep-learning workbench for learners.

Two engines behind one training loop: a from-scratch NumPy engine with a PyTorch-shaped API
(`gradschool.engine`) and PyTorch itself. See README.md and docs/.
"""

from typing import Any

from gradschool.version import __version__

__all__ = ["__version__", "load_run"]


def __getattr__(name: str) -> Any:  # PEP 562: `gradschool.load_run` without importing it up front
    if name == "load_run":
        from gradschool.loading import load_run

        return load_run
    raise AttributeError(f"module 'gradschool' has no attribute {name!r}")

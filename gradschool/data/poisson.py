"""Poisson sampling: batches in which each example takes part independently, with probability q.

An ordinary loader (loader.py) cuts a shuffled order into batches of exactly B examples. DP-SGD
(gradschool/trust/dp.py) needs another law: each example joins each batch on its own coin flip,
with probability q = B / N, so a batch holds Binomial(N, q) examples, B on average. Its privacy
accounting ("amplification by sampling") assumes exactly this.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradschool.data.loader import index_like
from gradschool.errors import ConfigError

__all__ = ["PoissonLoader", "poisson_schedule"]


def poisson_schedule(num_examples: int, batch_size: int | str) -> tuple[float, int]:
    """(q, batches per epoch) for an expected batch of `batch_size` ("full": all N) out of N:
    q = B / N, and an epoch is ceil(N / B) batches, as many as an ordinary loader's."""
    if num_examples == 0:
        raise ConfigError("DP-SGD needs at least one training example.")
    expected = num_examples if batch_size == "full" else min(int(batch_size), num_examples)
    return expected / num_examples, math.ceil(num_examples / expected)


class PoissonLoader:
    """Batches in which each example appears independently with probability `sample_rate`.

    `PoissonLoader(X, y, batch_size=256, seed=0)`: q = batch_size / N, and an epoch is
    ceil(N / batch_size) batches (as many as an ordinary loader's), each of Binomial(N, q)
    examples: 256 on average, sometimes 230, sometimes 280, in rare cases none. The batches of
    epoch e depend only on (seed, e), so a run resumed at epoch e sees the same batches.
    Shaped like `DataLoader` (len, set_epoch, epoch) so the training loop cannot tell them apart.
    """

    def __init__(
        self, *arrays: Any, batch_size: int | str, seed: int = 0, num_batches: int | None = None
    ) -> None:
        n = len(arrays[0])
        self.arrays, self.seed, self.epoch = arrays, int(seed), 0
        self._skip = 0
        self.num_examples = n
        self.sample_rate, batches = poisson_schedule(n, batch_size)
        self.num_batches = num_batches or batches

    @property
    def expected_batch_size(self) -> float:
        return self.sample_rate * self.num_examples

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip(self, batches: int) -> None:
        """Start the next iteration at batch `batches` (a run resumed mid-epoch): the coins of
        the batches before it are still tossed, so the rest come out the same."""
        self._skip = int(batches)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        first, self._skip = self._skip, 0
        return self._batches(epoch, first)

    def _batches(self, epoch: int, first: int = 0) -> Iterator[tuple[Any, ...]]:
        # NOTE: a stream of its own ([seed, epoch, 0x0D9]), apart from the weights' and the
        # shuffling loader's, so switching DP on changes nothing else about a run's randomness.
        rng = np.random.default_rng([self.seed, epoch, 0x0D9])
        for _ in range(min(first, self.num_batches)):
            rng.random(self.num_examples)
        for _ in range(first, self.num_batches):
            # One coin per example: the definition of Poisson sampling, read literally.
            idx = np.flatnonzero(rng.random(self.num_examples) < self.sample_rate)
            idx = index_like(self.arrays[0], idx)  # on the data's GPU, if it is on one
            yield tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        return (
            f"PoissonLoader(N={self.num_examples}, q={self.sample_rate:.4g}, "
            f"batches={self.num_batches})"
        )

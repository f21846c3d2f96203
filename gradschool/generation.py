"""Sampling text from a trained character-level GPT (`gradschool generate`, lectures, logs).

A language model gives, for a context of characters, a probability for every possible next
character. Generating text is a loop (nanoGPT's `generate`):

    1. feed the last block_size characters (the model's context window) to the model;
    2. take the logits of the LAST position: scores for the next character, (V,);
    3. divide by the temperature (< 1 sharpens the distribution, > 1 flattens it), keep the
       top_k highest scores (the rest get probability 0), softmax, and draw one character;
    4. append it, print it, repeat.

Everything random here comes from one NumPy generator seeded by `seed`, and the model's
logits do not depend on the engine beyond rounding, so the same run, prompt and seed give the
same text every time: after a checkpoint round trip, and (to rounding) on either engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradschool.data.text import CharVocab
from gradschool.errors import ConfigError


@dataclass
class LoadedModel:
    """A model rebuilt from a run directory, with what sampling needs around it."""

    model: Any
    backend: Any
    vocab: CharVocab
    block_size: int
    config: Any


def from_trainer(trainer: Any) -> LoadedModel:
    """The model a `Trainer` holds (e.g. just trained), ready for `generate`."""
    config = trainer.config
    vocab = trainer.task.data.vocab
    return LoadedModel(trainer.model, trainer.backend, vocab, config.model.block_size, config)


def next_token(logits: np.ndarray, temperature: float, top_k: int | None, rng: Any) -> int:
    """Draw one token id from (V,) logits: temperature, top-k, softmax, one draw.

    temperature = 0 means greedy decoding: always the most likely token.
    NOTE: the draw is an inverse-CDF lookup with one uniform number, so it depends only on
    the probabilities and the generator, not on the engine that made the logits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(logits))
    logits = logits / temperature
    if top_k is not None and top_k < len(logits):
        kth = np.sort(logits)[-top_k]  # the k-th largest score
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    cdf = np.cumsum(probs)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def check_sampling(tokens: int, temperature: float, top_k: int | None) -> None:
    if tokens < 0:
        raise ConfigError(f"--tokens must be >= 0, got {tokens}")
    if temperature < 0:
        raise ConfigError(
            f"--temperature must be >= 0 (0 = always the most likely character), got {temperature}"
        )
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k must be >= 1 (or left out for no limit), got {top_k}")


def encode_prompt(vocab: CharVocab, prompt: str) -> np.ndarray:
    """The prompt's ids; a clear error for an empty prompt or characters the model never saw."""
    if not prompt:
        raise ConfigError(
            "the prompt is empty: the model needs at least one character to continue, e.g. "
            '--prompt "ROMEO:" (or --prompt "\\n" to start a new line).'
        )
    unknown = vocab.unknown(prompt)
    if unknown:
        raise ConfigError(
            f"the prompt {prompt!r} has {len(unknown)} character(s) the model never saw in "
            f"training: {''.join(unknown)!r}. It knows only these {len(vocab)}: "
            f"{vocab.chars!r}. Rephrase the prompt with those."
        )
    return vocab.encode(prompt)


def generate(
    loaded: LoadedModel,
    prompt: str,
    tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int = 0,
) -> Iterator[str]:
    """Yield `tokens` new characters, one at a time, continuing `prompt`.

    The arguments are checked here, before the first character, so a bad prompt fails at
    once (not when the stream is first read).
    """
    check_sampling(tokens, temperature, top_k)
    ids = list(encode_prompt(loaded.vocab, prompt))
    return _stream(loaded, ids, tokens, temperature, top_k, seed)


def _stream(
    loaded: LoadedModel, ids: list[int], tokens: int, temperature: float, top_k: Any, seed: int
) -> Iterator[str]:
    backend, model, T = loaded.backend, loaded.model, loaded.block_size
    rng = np.random.default_rng(seed)
    model.eval()
    with backend.no_grad():
        for _ in range(tokens):
            context = np.asarray(ids[-T:], dtype=np.int64)[None]  # (1, t), t <= block_size
            logits = backend.to_numpy(model(backend.tensor(context)))[0, -1]  # (V,)
            ids.append(next_token(logits, temperature, top_k, rng))
            yield loaded.vocab.chars[ids[-1]]


def sample(loaded: LoadedModel, prompt: str, **kwargs: Any) -> str:
    """The prompt and its continuation as one string (see `generate` for the arguments)."""
    return prompt + "".join(generate(loaded, prompt, **kwargs))

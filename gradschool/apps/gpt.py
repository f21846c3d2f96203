"""`gradschool generate RUN_DIR`: rebuild a run's GPT and sample text from it.

The sampling itself (temperature, top-k, the generation loop) is gradschool/generation.py,
below the training loop, so the loop's loggers can sample too; this module adds what needs a
run directory.
"""

from __future__ import annotations

from pathlib import Path

from gradschool.errors import ConfigError
from gradschool.generation import (
    LoadedModel,
    check_sampling,
    encode_prompt,
    from_trainer,
    generate,
    next_token,
    sample,
)

__all__ = [
    "LoadedModel",
    "check_sampling",
    "encode_prompt",
    "from_trainer",
    "generate",
    "load_model",
    "next_token",
    "sample",
]


def load_model(run_dir: str | Path, device: str = "cpu") -> LoadedModel:
    """Rebuild a run's GPT from its config.toml, run.json (the vocabulary) and checkpoint.

    The training data is not needed: the vocabulary was saved in run.json when the run began.
    """
    from gradschool.loading import load_run
    from gradschool.train.run import RunDir

    run = RunDir.open(Path(run_dir))
    config = run.load_config()
    if config.model.name != "gpt":
        raise ConfigError(
            f"{run.path} trained a {config.model.name!r} model; `gradschool generate` samples "
            f"text from a language model (model.name = gpt), e.g. a run of "
            f"`gradschool train --config gpt_shakespeare`."
        )
    loaded = load_run(run.path, device=device)  # weights, vocabulary (run.json), eval mode
    model, backend, vocab = loaded.model, loaded.backend, loaded.preprocess.vocab
    return LoadedModel(model, backend, vocab, config.model.block_size, config)

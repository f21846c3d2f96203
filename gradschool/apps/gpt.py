"""`gradschool generate RUN_DIR`: rebuild a run's GPT and sample text from it.

The sampling itself (temperature, top-k, the generation loop) is gradschool/generation.py,
below the training loop, so the loop's loggers can sample too; this module adds what needs a
run directory.
"""

from __future__ import annotations

from pathlib import Path

from gradschool.data.text import CharVocab
from gradschool.errors import CheckpointError, ConfigError
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
    from gradschool.backends import get_backend
    from gradschool.models import build_model
    from gradschool.train.run import RunDir

    run = RunDir.open(Path(run_dir))
    config = run.load_config()
    if config.model.name != "gpt":
        raise ConfigError(
            f"{run.path} trained a {config.model.name!r} model; `gradschool generate` samples "
            f"text from a language model (model.name = gpt), e.g. a run of "
            f"`gradschool train --config gpt_shakespeare`."
        )
    chars = run.read_info().get("vocabulary")
    if not chars:
        raise CheckpointError(
            f"{run.path}/run.json holds no vocabulary, so the model's token ids cannot be "
            f"turned back into characters. Was the run made by an older gradschool? Train it "
            f"again."
        )
    vocab = CharVocab(chars)
    backend = get_backend(config.train.engine, config.train.dtype, device)
    c = config.model
    model = backend.cast_model(build_model(backend.nn, c, (c.block_size,), len(vocab)))
    checkpoint = backend.load(run.find_checkpoint())
    try:
        model.load_state_dict(backend.numpy_to_state(checkpoint["model"]))
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(
            f"the checkpoint in {run.path} does not match the run's model settings ({err}); "
            f"was config.toml edited after training?"
        ) from err
    model.eval()
    return LoadedModel(model, backend, vocab, c.block_size, config)

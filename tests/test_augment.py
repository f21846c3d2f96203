"""Augmentation: each transform does what it says on hand-made images, keeps shapes and dtypes,
is seeded, and reaches the training loop (training batches only) on both engines."""

from __future__ import annotations

import numpy as np
import pytest

from gradschool.config import Config, with_updates
from gradschool.data.augment import (
    AugmentedLoader,
    Augmenter,
    batch_rng,
    parse_spec,
    random_crop,
    random_flip,
    random_rotate,
    random_shift,
    rotate,
    translate,
)
from gradschool.data.loader import DataLoader
from gradschool.errors import ConfigError, DataError

SPECS = ["shift:2", "crop:3", "crop:3:reflect", "rotate:15", "flip", "flip:0.3"]


def dot(n=1, c=1, h=7, w=7, y=3, x=5, value=1.0):
    """Images with a single bright pixel at (y, x) in every channel."""
    X = np.zeros((n, c, h, w), dtype=np.float32)
    X[:, :, y, x] = value
    return X


def where(img):
    ys, xs = np.nonzero(img)
    return list(zip(ys.tolist(), xs.tolist()))


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_spec_keeps_shape_and_dtype_and_leaves_input_alone(spec, channels, dtype):
    X = np.random.default_rng(0).normal(size=(5, channels, 8, 10)).astype(dtype)
    before = X.copy()
    out = Augmenter([spec])(X, batch_rng(0, 0, 0))
    assert out.shape == X.shape and out.dtype == X.dtype
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("spec", SPECS)
def test_seeded_by_seed_epoch_and_batch(spec):
    X = np.random.default_rng(1).normal(size=(16, 3, 8, 8)).astype(np.float32)
    aug = Augmenter([spec])
    np.testing.assert_array_equal(aug(X, batch_rng(3, 1, 2)), aug(X, batch_rng(3, 1, 2)))
    outputs = [aug(X, batch_rng(*key)) for key in [(3, 1, 2), (4, 1, 2), (3, 2, 2), (3, 1, 3)]]
    for other in outputs[1:]:
        assert not np.array_equal(outputs[0], other)


def test_translate_moves_a_pixel_and_fills_per_channel():
    X = dot(c=2)
    out = translate(X, [1], [-2], fill=[-1.0, -2.0])
    assert out[0, 0, 4, 3] == 1 and out[0, 1, 4, 3] == 1  # (3, 5) -> (3 + 1, 5 - 2)
    assert (out[0, 0, 0, :] == -1).all() and (out[0, 1, 0, :] == -2).all()  # vacated top row
    assert (out[0, 0, :, -2:] == -1).all()  # vacated right columns
    assert out[0, 0, 1:, :-2][out[0, 0, 1:, :-2] != 1].max() == 0  # the rest is the image


def test_random_shift_stays_within_k_and_uses_every_offset():
    X = dot(n=400, y=3, x=3)
    out = random_shift(X, 2, np.random.default_rng(0))
    offsets = set()
    for img in out[:, 0]:
        ((y, x),) = where(img)
        offsets.add((y - 3, x - 3))
    assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_crop_with_padding_pads_then_cuts_a_window():
    X = np.arange(2 * 25, dtype=np.float32).reshape(2, 1, 5, 5)
    out = random_crop(X, 2, np.random.default_rng(0), fill=-7.0)
    padded = np.pad(X, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=-7.0)
    for n in range(2):  # each output is one 5x5 window of its padded image
        windows = [padded[n, 0, i : i + 5, j : j + 5] for i in range(5) for j in range(5)]
        assert any(np.array_equal(out[n, 0], w) for w in windows)


def test_reflect_crop_fills_with_picture_not_background():
    X = np.random.default_rng(0).uniform(1, 2, size=(50, 1, 6, 6)).astype(np.float32)
    out = random_crop(X, 3, np.random.default_rng(1), fill=-5.0, mode="reflect")
    assert out.min() >= 1  # never the fill
    with pytest.raises(DataError, match="padding < the image size"):
        random_crop(X, 6, np.random.default_rng(1), mode="reflect")


def test_rotation_by_90_degrees_is_rot90_and_turns_counter_clockwise():
    X = np.random.default_rng(0).normal(size=(3, 2, 6, 6)).astype(np.float64)
    np.testing.assert_allclose(rotate(X, [90, 90, 90]), np.rot90(X, 1, axes=(2, 3)), atol=1e-12)
    np.testing.assert_allclose(rotate(X, [0, 0, 0]), X, atol=1e-12)
    np.testing.assert_allclose(rotate(X, [180] * 3), X[:, :, ::-1, ::-1], atol=1e-12)
    # A pixel right of the centre goes above it (counter-clockwise on screen, as torchvision).
    assert where(rotate(dot(y=3, x=5), [90])[0, 0].round(6)) == [(1, 3)]


def test_rotation_fills_corners_with_background_and_is_bilinear():
    X = np.ones((1, 1, 9, 9), dtype=np.float32)
    out = rotate(X, [45], fill=-1.0)[0, 0]
    assert out[0, 0] == -1 and out[4, 4] == pytest.approx(1.0)  # corner left the image
    assert out.min() >= -1 and out.max() <= 1 + 1e-6  # a blend, never outside the two values
    half = rotate(dot(h=5, w=5, y=2, x=2), [30])[0, 0]  # a pixel at the centre stays there
    assert half[2, 2] == pytest.approx(1.0)


def test_random_rotate_draws_angles_in_range():
    X = dot(n=200, h=9, w=9, y=4, x=8)  # on the right edge's middle: the angle shows
    out = random_rotate(X, 10, np.random.default_rng(0))
    centre_of_mass = [(np.argwhere(img > 0.1)[:, 0]).mean() for img in out[:, 0]]
    # Turning by at most 10 degrees moves a point at radius 4 by at most 4 * sin(10) < 0.7.
    assert max(abs(c - 4) for c in centre_of_mass) < 1.0
    assert np.std(centre_of_mass) > 0.1


def test_flip_mirrors_left_right_with_probability_p():
    X = dot(n=2000, y=1, x=0)
    out = random_flip(X, np.random.default_rng(0), p=0.5)
    flipped = out[:, 0, 1, -1] == 1
    assert ((out[:, 0, 1, 0] == 1) ^ flipped).all()  # each image: original or mirrored
    assert 0.45 < flipped.mean() < 0.55
    assert (random_flip(X, np.random.default_rng(0), p=1.0)[:, 0, 1, -1] == 1).all()


@pytest.mark.parametrize("bad", ["blur", "shift", "shift:0", "shift:1.5", "rotate:200",
                                 "flip:2", "crop:2:wrap", "rotate:x"])  # fmt: skip
def test_bad_specs_are_refused_clearly(bad):
    with pytest.raises(DataError, match="augmentation"):
        parse_spec(bad)
    with pytest.raises(ConfigError, match="data.augment"):
        with_updates(Config(), {"data.augment": [bad]})


def test_only_image_batches_are_augmented():
    with pytest.raises(DataError, match=r"\(N, C, H, W\)"):
        Augmenter(["flip"])(np.zeros((4, 10), dtype=np.float32), batch_rng(0, 0, 0))


def test_augmented_loader_repeats_an_epoch_when_resumed():
    X = np.random.default_rng(0).normal(size=(40, 1, 6, 6)).astype(np.float32)
    y = np.arange(40)

    def loader():
        base = DataLoader(X, y, batch_size=16, shuffle=True, seed=5)
        return AugmentedLoader(base, Augmenter(["shift:1", "rotate:10"]), seed=5)

    whole = loader()
    epochs = [list(whole) for _ in range(3)]
    resumed = loader()
    resumed.set_epoch(2)
    again = list(resumed)
    assert len(whole) == 3 and whole.epoch == 3
    for (xa, ya), (xb, yb) in zip(epochs[2], again):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    # Labels stay with their (augmented) images.
    for xb, yb in epochs[0]:
        assert len(xb) == len(yb)
    assert not np.array_equal(epochs[0][0][0], epochs[1][0][0])


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_training_batches_only_are_augmented_on_both_engines(engine):
    if engine == "torch":
        pytest.importorskip("torch")
    from gradschool.train.trainer import Trainer

    config = with_updates(
        Config(),
        {"engine": engine, "train_subset": 200, "epochs": 1, "progress": "off",
         "augment": ["shift:2", "rotate:10"]},
    )  # fmt: skip
    trainer = Trainer(config, console=False)
    xb, yb = next(iter(trainer.loader))
    assert isinstance(xb, np.ndarray) and xb.shape[1:] == (1, 28, 28)
    # The background of the augmented images is the normalised value of a black pixel.
    black = float(trainer.task._background()[0])
    assert black == pytest.approx(-trainer.data.normalizer.mean[0] / trainer.data.normalizer.std[0])
    assert (np.isclose(xb, black)).mean() > 0.5
    history = trainer.fit()
    assert len(history) == 1 and history[0]["val_acc"] is not None

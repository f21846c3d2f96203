"""Data directories a user names: a typo creates nothing and downloads nothing; only --download
writes into a new folder; `data list` / `data verify` say where they looked and how to point
elsewhere (gradschool/data/sources.py)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gradschool.cli import main
from gradschool.data.sources import ENV_VAR, check_data_dir, closest_existing
from gradschool.errors import DataError

TINY = ["--train-subset", "300", "--epochs", "1", "--progress", "off"]


@pytest.fixture(autouse=True)
def no_network_and_own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """No test here may reach the network: every URL opened is recorded and refused."""
    opened: list[str] = []

    def refuse(url, *args, **kwargs):
        opened.append(str(url))
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return opened


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_typo_names_the_closest_folder(tmp_path: Path) -> None:
    (tmp_path / "shared" / "data" / "mnist").mkdir(parents=True)
    assert closest_existing(tmp_path / "shared" / "dta") == f" Did you mean {tmp_path}/shared/data?"
    # every missing part is matched, not only the last one
    assert closest_existing(tmp_path / "shard" / "dat") == f" Did you mean {tmp_path}/shared/data?"
    far = closest_existing(tmp_path / "elsewhere" / "x")
    assert far == f" The nearest folder above it that exists is {tmp_path}."


def test_a_missing_data_dir_is_refused_unless_download_is_asked(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    before = _tree(tmp_path)
    with pytest.raises(DataError, match="does not exist; nothing was created") as err:
        check_data_dir(tmp_path / "dta", None)
    assert f"Did you mean {tmp_path / 'data'}?" in str(err.value)
    assert "add --download" in str(err.value)
    assert _tree(tmp_path) == before
    # an explicit choice is obeyed: True downloads (into a new folder), False never does
    assert check_data_dir(tmp_path / "dta", True) is True
    assert check_data_dir(tmp_path / "dta", False) is False
    # a folder that exists, and the user cache, may be downloaded into
    assert check_data_dir(tmp_path / "data", None) is True
    assert check_data_dir(None, None) is True


def test_gradschool_data_env_var_is_checked_too(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=f"from {ENV_VAR}="):
        check_data_dir(None, None)


def test_train_with_a_mistyped_data_dir_creates_and_downloads_nothing(
    tmp_path: Path, capsys, no_network_and_own_cache: list[str]
) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    before = _tree(tmp_path)
    argv = ["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "shared" / "dta")]
    assert main([*argv, *TINY, "--out-dir", str(work / "runs")]) == 1
    err = capsys.readouterr().err
    assert "does not exist; nothing was created or downloaded" in err
    assert f"Did you mean {tmp_path / 'shared' / 'data'}?" in err
    assert _tree(tmp_path) == before  # no data folder, no runs/ folder
    assert no_network_and_own_cache == []  # and no download was tried


def test_train_with_download_writes_into_the_new_folder(
    tmp_path: Path, capsys, no_network_and_own_cache: list[str]
) -> None:
    new = tmp_path / "new-data"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(new), "--download", *TINY]
    assert main([*argv, "--out-dir", str(tmp_path / "runs")]) == 1  # the network is refused
    assert "Downloading them failed" in capsys.readouterr().err
    assert (new / "mnist").is_dir() and no_network_and_own_cache  # it was asked, so it tried


def test_data_list_and_verify_say_where_they_looked(tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache" / "gradschool"
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"Data directory: {cache} (the user cache: neither --data-dir nor {ENV_VAR} is set); "
        "it does not exist."
    )
    assert "missing: not in the data directory" in out and "--data-dir DIR" in out
    assert f"{ENV_VAR}=DIR" in out

    assert main(["data", "verify", "mnist"]) == 1
    out = capsys.readouterr().out
    assert f"BAD {cache / 'mnist' / 'train-images-idx3-ubyte.gz'}" in out
    assert "A missing file was looked for at the path shown" in out and "--data-dir DIR" in out

    (tmp_path / "data").mkdir()
    assert main(["data", "verify", "mnist", "--data-dir", str(tmp_path / "dta")]) == 1
    out = capsys.readouterr().out
    assert f"(from --data-dir {tmp_path / 'dta'}); it does not exist." in out
    assert f"Did you mean {tmp_path / 'data'}?" in out

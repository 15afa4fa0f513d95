"""Run every benchmark module in this folder (``make bench``)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    for path in sorted(HERE.glob("*.py")):
        if path.name in {"run.py", "__init__.py"}:
            continue
        print(f"== {path.stem}")
        runpy.run_path(str(path), run_name="__main__")


if __name__ == "__main__":
    main()

"""A flow's module, loaded from a file or by name, and loaded again after an edit."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["from_file", "reload"]

FILE_PREFIX = "_flowhq_file_"


def from_file(path: Path) -> ModuleType:
    """Execute ``path`` as a module of its own.

    It is registered under a name of its own (never the bare file name: a user's
    ``uvicorn.py`` must not replace the installed uvicorn), unique per file.

    Raises:
        ImportError: when the file cannot be loaded as Python.
    """
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode(), usedforsecurity=False).hexdigest()[:8]
    name = f"{FILE_PREFIX}{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def reload(module: ModuleType) -> ModuleType:
    """``module`` executed again from its source.

    ``importlib.reload`` cannot find a module loaded from a file that is not on ``sys.path``.
    """
    if module.__name__.startswith(FILE_PREFIX) and module.__file__:
        return from_file(Path(module.__file__))
    return importlib.reload(module)

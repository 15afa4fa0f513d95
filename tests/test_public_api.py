"""The public surface: explicit, sorted ``__all__``, each name public and with one home."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import flowhq
import flowhq.validators

DESIGN_NAMES = {
    "Flow",
    "Message",
    "Prompt",
    "Confirm",
    "Choice",
    "ApiCall",
    "Action",
    "InboundMessage",
    "OutboundMessage",
    "Headquarters",
    "Outcome",
    "MemoryStore",
    "check_flow",
    "FlowError",
    "FlowDefinitionError",
    "ValidationError",
    "StateAccessError",
    "ConflictError",
    "SnapshotError",
    "StoreUnavailableError",
}


@pytest.mark.parametrize("module", [flowhq, flowhq.validators])
def test_all_is_sorted_and_complete(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert hasattr(module, name), name


def test_design_names_are_exported() -> None:
    assert set(flowhq.__all__) >= DESIGN_NAMES
    assert {"email", "phone", "integer", "regex", "one_of"} <= set(flowhq.validators.__all__)


def test_errors_share_one_root() -> None:
    for name in flowhq.__all__:
        obj = getattr(flowhq, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, flowhq.FlowError), name


def test_every_public_name_is_listed() -> None:
    """Both ways, like httpx's test: what flowhq exposes is exactly its ``__all__``."""
    exposed = {
        name
        for name in dir(flowhq)
        if not name.startswith("_") and not isinstance(getattr(flowhq, name), ModuleType)
    }
    assert exposed | {"validators"} == set(flowhq.__all__) - {"__version__"}


def _modules() -> list[ModuleType]:
    found = [flowhq]
    for info in pkgutil.walk_packages(flowhq.__path__, "flowhq."):
        if ".testing.pytest_plugin" in info.name or info.name.endswith("__main__"):
            continue
        found.append(importlib.import_module(info.name))
    return found


def _private(module_name: str) -> bool:
    return any(part.startswith("_") for part in module_name.split("."))


@pytest.mark.parametrize("module", _modules(), ids=lambda module: module.__name__)
def test_public_types_have_one_home(module: ModuleType) -> None:
    """A listed class or function is defined in a public module, listed from one place.

    A module lists what it defines; a package's ``__init__`` may also list what its own
    submodules define; ``flowhq`` itself lists everything users need.
    """
    if _private(module.__name__):
        return  # what a private module lists is private wherever it lives
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if not isinstance(obj, type) and not inspect.isfunction(obj):
            continue
        home = obj.__module__
        if not home.startswith("flowhq"):
            continue  # a name users get from a dependency (statemachine's State)
        assert not _private(home), f"{module.__name__}.{name} lives in private {home}"
        if module is flowhq or home == module.__name__:
            continue
        assert hasattr(module, "__path__"), f"{module.__name__} lists {name}, from {home}"
        assert home.startswith(module.__name__ + "."), f"{module.__name__} lists {name}"


@pytest.mark.parametrize("module", _modules(), ids=lambda module: module.__name__)
def test_public_exceptions_live_in_errors(module: ModuleType) -> None:
    if _private(module.__name__):
        return
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert obj.__module__ == "flowhq.errors", f"{module.__name__}.{name}"


def test_the_error_tree_draws_every_exception() -> None:
    import flowhq.errors

    tree = (flowhq.errors.__doc__ or "").partition("::")[2]
    drawn = set(re.findall(r"^[\s│├└─]*(\w+Error)\b", tree, flags=re.MULTILINE))
    assert drawn == set(flowhq.errors.__all__)

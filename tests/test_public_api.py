"""The public surface: explicit, sorted ``__all__`` whose names all exist (DESIGN §2)."""

from __future__ import annotations

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

"""``flowhq.inbox`` is the one home of the update queue and ``flowhq.testing.whatsapp`` of the
fake Graph API; the old WhatsApp paths still work for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib

import pytest

import flowhq.channels.whatsapp
import flowhq.inbox
import flowhq.testing.whatsapp
from flowhq.inbox import MemoryQueue, RedisStreamQueue, UpdateQueue


def test_the_queue_names_live_in_the_inbox() -> None:
    assert flowhq.inbox.__all__ == sorted(flowhq.inbox.__all__)
    assert MemoryQueue.__module__ == "flowhq.inbox.queue"
    assert UpdateQueue.__module__ == "flowhq.inbox.queue"
    assert RedisStreamQueue.__module__ == "flowhq.inbox.redis_streams"
    assert not {"MemoryQueue", "RedisStreamQueue", "UpdateQueue"} & set(
        flowhq.channels.whatsapp.__all__
    )


@pytest.mark.parametrize("name", ["MemoryQueue", "RedisStreamQueue", "UpdateQueue"])
@pytest.mark.parametrize("module", ["flowhq.channels.whatsapp", "flowhq.channels.whatsapp.queue"])
def test_the_old_paths_warn_and_give_the_same_object(module: str, name: str) -> None:
    old = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"moved to flowhq.inbox.{name}"):
        moved = getattr(old, name)
    assert moved is getattr(flowhq.inbox, name)


def test_the_warning_points_at_the_importing_line() -> None:
    with pytest.warns(DeprecationWarning, match="MemoryQueue moved") as caught:
        from flowhq.channels.whatsapp import MemoryQueue as Old
    assert Old is MemoryQueue
    assert caught[0].filename == __file__


def test_other_names_are_still_missing() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = flowhq.channels.whatsapp.Nothing  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["FakeGraphApi", "Delivery", "refuse"])
def test_the_fake_graph_api_moved_to_the_testing_kit(name: str) -> None:
    old = importlib.import_module("flowhq.channels.whatsapp.fake_graph")
    with pytest.warns(DeprecationWarning, match=f"moved to flowhq.testing.whatsapp.{name}"):
        moved = getattr(old, name)
    assert moved is getattr(flowhq.testing.whatsapp, name)

"""The console's read-only view of stored conversations: a paged list and a funnel.

Listing pages through the keyspace with ``SCAN`` (never ``KEYS``); the funnel reads at most
``sample`` conversations and says so when there are more. Documents are read with their
tokens left as stored and shown redacted: the auth token and dashboard values whose names
look secret never reach the page.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from attrs import define, field

from flowhq.errors import SnapshotError
from flowhq.messaging.key import ConversationKey
from flowhq.persistence.codec import JsonCodec
from flowhq.persistence.store import Loaded, Store
from flowhq.runtime.outbox import pending
from flowhq.state.document import ConversationDocument
from flowhq.statecharts.flow import Flow

__all__ = ["Funnel", "Inspector", "outbox_status", "redacted", "summary"]

SECRET_NAME = re.compile(
    r"secret|token|password|passwd|pin|key|auth|credential|card|iban|ssn", re.IGNORECASE
)
LOAD_BATCH = 100
"""Conversations loaded at once (concurrently) by the listing and the funnel."""
REDACTED = "***"


def redacted(loaded: Loaded, key: ConversationKey) -> dict[str, Any]:
    """A stored conversation as the page may show it (no token, no secret-looking values).

    ``outbox`` says which of the document's outbox entries are still to send: a delivered
    reply stays in the stored document until the next commit drops it, marked delivered
    beside it in the store.
    """
    document = loaded.document
    assert document is not None
    data: dict[str, Any] = orjson.loads(JsonCodec(opaque_tokens=True).encode(document))
    if data["auth"]["token"] is not None:
        data["auth"]["token"] = REDACTED
    for part in ("dashboard", "action"):
        data[part] = {
            name: REDACTED if SECRET_NAME.search(name) else value
            for name, value in data[part].items()
        }
    return {
        "key": str(key),
        "revision": loaded.revision,
        "delivered": sorted(loaded.delivered),
        "outbox": outbox_status(loaded),
        "document": data,
    }


def outbox_status(loaded: Loaded) -> list[dict[str, Any]]:
    """Each outbox entry of ``loaded`` with its ``status``: pending, delivered or failed."""
    document = loaded.document
    assert document is not None
    waiting = {(p.revision, p.seq) for p in pending(loaded)}
    seq: Counter[int] = Counter()  # an entry's place among its commit's, as pending() counts
    shown = []
    for entry in document.outbox:
        place = (entry.revision, seq[entry.revision])
        seq[entry.revision] += 1
        failure = loaded.failures.get(entry.revision)
        if place in waiting:
            status, reason = "pending", None
        elif failure is not None:
            status, reason = "failed", failure
        else:
            status, reason = "delivered", None
        shown.append(
            {"revision": entry.revision, "text": entry.text, "status": status, "reason": reason}
        )
    return shown


def summary(
    key: ConversationKey, document: ConversationDocument, flow: type[Flow] | None = None
) -> dict[str, Any]:
    """One line of the conversation list (``state``: its innermost active state)."""
    chart = document.chart
    configuration = chart.configuration
    if flow is not None and all(s in flow.states_map for s in configuration):
        children = {s: {c.id for c in flow.states_map[s].states} for s in configuration}
        leaves = [s for s in configuration if not children[s] & set(configuration)]
    else:
        leaves = configuration[-1:]
    return {
        "key": str(key),
        "flow": document.current.path or chart.flow,
        "active": document.current.path is not None,
        "configuration": chart.configuration,
        "state": leaves[-1] if leaves else None,
        "waiting": document.current.component,
        "result": document.current.component_result,
        "updated_at": document.metadata.updated_at,
    }


@define
class Funnel:
    """Where a flow's conversations are: in progress by state, or how they ended."""

    flow: str
    waiting: Counter[str] = field(factory=Counter)
    ended: Counter[str] = field(factory=Counter)
    read: int = 0
    total: int | None = None
    sampled: bool = False
    unreadable: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the page."""
        return {
            "flow": self.flow,
            "waiting": dict(self.waiting.most_common()),
            "ended": dict(self.ended.most_common()),
            "read": self.read,
            "total": self.total,
            "sampled": self.sampled,
            "unreadable": self.unreadable,
        }


class Inspector:
    """Read-only access to stored conversations.

    Args:
        store: The store to read (the console reads it with tokens left as stored).
        flows: The flows the console knows (to name states and ends).
        idle: Seconds after which an unfinished conversation counts as expired (abandoned).
    """

    def __init__(
        self, store: Store, flows: Sequence[type[Flow]], *, idle: float = 24 * 3600
    ) -> None:
        self.store = store
        self.flows = {flow.name: flow for flow in flows}
        self.idle = idle

    async def page(
        self,
        cursor: str = "0",
        *,
        count: int = 50,
        flow: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """One page of conversations (``SCAN``), filtered by flow and state.

        Returns:
            ``{"items": [...], "cursor": next cursor or "0" at the end}``.
        """
        keys, next_cursor = await self.store.scan_page(cursor, count)
        items = []
        for key, loaded in zip(keys, await _load_all(self.store, keys), strict=True):
            if isinstance(loaded, SnapshotError):
                items.append({"key": str(key), "unreadable": loaded.reason})
                continue
            if loaded.document is None:
                continue
            document = loaded.document
            line = summary(key, document, self.flows.get(document.chart.flow or ""))
            if flow and line["flow"] != flow:
                continue
            if state and state not in line["configuration"]:
                continue
            items.append(line)
        return {"items": items, "cursor": next_cursor}

    async def conversation(self, key: ConversationKey) -> dict[str, Any] | None:
        """One conversation, redacted, or ``None`` when it does not exist."""
        loaded = await self.store.load(key)
        if loaded.document is None:
            return None
        return redacted(loaded, key)

    async def funnel(self, flow: str, *, sample: int = 5000) -> Funnel:
        """How many conversations of ``flow`` wait at each state, and how the ended ones ended.

        Ends: ``finished`` (a final state), ``exhausted`` (the last result was
        ``exhausted``), ``cancelled`` (the last event was one of the flow's commands), and
        ``expired`` for unfinished ones idle longer than ``idle`` (abandoned; conversations
        Redis already dropped by their TTL cannot be counted). Reads at most ``sample``.
        """
        flow_cls = self.flows.get(flow)
        commands = set(flow_cls.commands.values()) if flow_cls is not None else set()
        funnel = Funnel(flow, total=await self.store.size())
        now = time.time()
        batch: list[ConversationKey] = []
        async for key in self.store.scan():
            if funnel.read + len(batch) >= sample:
                funnel.sampled = True
                break
            batch.append(key)
            if len(batch) == LOAD_BATCH:
                self._tally(funnel, await _load_all(self.store, batch), flow, commands, now)
                batch = []
        self._tally(funnel, await _load_all(self.store, batch), flow, commands, now)
        return funnel

    def _tally(
        self,
        funnel: Funnel,
        loaded: list[Loaded | SnapshotError],
        flow: str,
        commands: set[str],
        now: float,
    ) -> None:
        funnel.read += len(loaded)
        for one in loaded:
            if isinstance(one, SnapshotError):
                funnel.unreadable += 1
            elif one.document is not None:
                _count(funnel, one.document, flow, commands, now - self.idle)


async def _load_all(store: Store, keys: Sequence[ConversationKey]) -> list[Loaded | SnapshotError]:
    """Load ``keys`` concurrently, in order (one round trip's latency per batch, not per key)."""

    async def one(key: ConversationKey) -> Loaded | SnapshotError:
        try:
            return await store.load(key)
        except SnapshotError as exc:
            return exc

    loaded: list[Loaded | SnapshotError] = []
    for start in range(0, len(keys), LOAD_BATCH):
        loaded += await asyncio.gather(*(one(key) for key in keys[start : start + LOAD_BATCH]))
    return loaded


def _count(
    funnel: Funnel, document: ConversationDocument, flow: str, commands: set[str], cutoff: float
) -> None:
    current, chart = document.current, document.chart
    if current.path == flow:
        updated = _epoch(document.metadata.updated_at)
        if updated is not None and updated < cutoff:
            funnel.ended["expired"] += 1
        else:
            funnel.waiting[current.component or (chart.configuration or ["?"])[-1]] += 1
    elif current.path is None and chart.flow == flow and chart.configuration:
        result = current.component_result
        if result == "exhausted":
            funnel.ended["exhausted"] += 1
        elif result in commands:
            funnel.ended["cancelled"] += 1
        else:
            funnel.ended["finished"] += 1


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None

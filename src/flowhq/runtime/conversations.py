"""Conversations: per-key locks, the document cache and the load-step-commit loop.

``transact`` loads a conversation (or takes this process's cached copy), runs a step on
it and commits the result with the store's compare-and-set; on a conflict it recomputes the
step from the current document. It returns the committed document and never sends anything:
delivery is the caller's next move, under the same lock (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from attrs import frozen

from flowhq.errors import ConflictError
from flowhq.messaging.key import ConversationKey
from flowhq.messaging.types import InboundMessage, OutboundMessage
from flowhq.observability import logs, tracing
from flowhq.observability.events import Conflict, Observer, StepDone, TimerFired, emit
from flowhq.persistence.store import CommitResult, Loaded, Seen, Store
from flowhq.runtime import handoff, timers
from flowhq.runtime.records import Outcome, StepRecord
from flowhq.runtime.settings import Limits
from flowhq.runtime.turn import Planned, Start, Turns
from flowhq.state.document import ConversationDocument, Timer

__all__ = ["CACHE_SIZE", "Conversations", "Transaction"]

logger = logging.getLogger("flowhq.headquarters")

CACHE_SIZE = 10_000
"""Conversations whose last committed document a process keeps (saves the load)."""


@frozen
class Transaction:
    """What ``transact`` did.

    Attributes:
        outcome: The step's outcome, with the committed revision.
        loaded: The document the final step was computed from.
        committed: The document as now stored (``None`` when nothing was written).
        record: What the committed step did (``None`` when it recorded nothing).
    """

    outcome: Outcome
    loaded: Loaded
    committed: Loaded | None
    record: StepRecord | None


Step = Callable[[Loaded], Awaitable[Planned]]
"""A step: the loaded conversation in, the plan out; it must not write anywhere itself."""


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Conversations:
    """Loads, steps and commits conversations of one store, one message at a time per key.

    Args:
        store: Where the documents live.
        turns: Plans each step (the chart, the components, the bookkeeping).
        ttl: Seconds a conversation is kept after its last commit (``None``: forever).
        limits: Commit attempts, and how long and how many message ids are remembered.
        cache: Keep each conversation's last committed document in this process. With an
            outbox, delivery decides what to cache once the replies' marks are known.
        observers: Told about each committed step, conflict and fired timer (the
            Headquarters' list, which may grow later).
    """

    def __init__(
        self,
        store: Store,
        turns: Turns,
        *,
        ttl: int | None,
        limits: Limits,
        cache: bool,
        observers: list[Observer] | None = None,
    ) -> None:
        self.observers: list[Observer] = [] if observers is None else observers
        self.store = store
        self.turns = turns
        self.ttl = ttl
        self.limits = limits
        self.max_attempts = limits.max_attempts
        self._locks: dict[ConversationKey, _KeyLock] = {}
        self._cache: OrderedDict[ConversationKey, Loaded] | None = OrderedDict() if cache else None

    @asynccontextmanager
    async def lock(self, key: ConversationKey) -> AsyncIterator[None]:
        """One message of a conversation at a time in this process; idle locks are dropped."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _KeyLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]

    @property
    def locked(self) -> int:
        """How many conversations hold or wait for a lock right now."""
        return len(self._locks)

    async def load(self, key: ConversationKey) -> Loaded:
        """The conversation from the cache (taken out of it) or from the store."""
        cache = self._cache
        if cache is not None:
            cached = cache.pop(key, None)
            if cached is not None:
                return cached
        return await self.store.load(key)

    def remember(self, key: ConversationKey, loaded: Loaded) -> None:
        """Cache ``loaded`` as what the store holds now."""
        cache = self._cache
        if cache is None:
            return
        cache[key] = loaded
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    def evict(self, key: ConversationKey) -> None:
        """Forget the cached copy: the next message reads the store."""
        if self._cache is not None:
            self._cache.pop(key, None)

    async def answer(self, key: ConversationKey, inbound: InboundMessage) -> Transaction:
        """Step ``inbound`` into the conversation and commit (a duplicate commits nothing)."""

        async def step(loaded: Loaded) -> Planned:
            return await self.turns.answer(key, loaded, inbound)

        now = self.turns.stepper.clock().timestamp()
        window = self.limits.dedup_window
        seen = Seen(
            inbound.message_id,
            inbound.timestamp if inbound.timestamp is not None else now,
            since=now - window,
            limit=self.limits.dedup_limit,
            keep=window,
        )
        return await self._transact(key, step, seen=seen)

    async def begin(self, key: ConversationKey, start: Start) -> Transaction:
        """Begin a flow in the conversation and commit.

        Raises:
            ConversationInProgressError: see ``Turns.begin``.
        """

        async def step(loaded: Loaded) -> Planned:
            return await self.turns.begin(key, loaded, start)

        return await self._transact(key, step)

    async def fire(self, key: ConversationKey) -> Transaction:
        """Fire the conversation's due timers and commit (nothing when none is due)."""
        due: dict[str, float] = {}  # the timers' due times, before the step removes them

        async def step(loaded: Loaded) -> Planned:
            if self.observers and loaded.document is not None:
                due.update((timer.id, timer.due) for timer in loaded.document.timers)
            return await self.turns.fire(key, loaded)

        done = await self._transact(key, step)
        if self.observers and done.committed is not None and done.outcome.fired:
            self._report_timers(done, due)
        return done

    def _report_timers(self, done: Transaction, due: Mapping[str, float]) -> None:
        """A ``TimerFired`` per timer this commit fired, with its lag behind its due time."""
        now = self.turns.stepper.clock().timestamp()
        for timer_id in done.outcome.fired:
            if timer_id in due:
                emit(self.observers, TimerFired(done.outcome.flow, now - due[timer_id]))

    async def schedule(self, key: ConversationKey, timer: Timer) -> Transaction:
        """Set ``timer`` in the conversation and commit."""

        async def step(loaded: Loaded) -> Planned:
            return self.turns.schedule(key, loaded, timer)

        return await self._transact(key, step)

    async def cancel(self, key: ConversationKey, timer_id: str) -> Transaction:
        """Remove the timer ``timer_id`` and commit (nothing when there is none)."""

        async def step(loaded: Loaded) -> Planned:
            return self.turns.cancel(key, loaded, timer_id)

        return await self._transact(key, step)

    async def pause(self, key: ConversationKey, reason: str | None) -> Transaction:
        """Pause the conversation where it stands and commit (nothing if it is paused)."""

        async def step(loaded: Loaded) -> Planned:
            return self.turns.pause(key, loaded, reason)

        return await self._transact(key, step)

    async def unpause(self, key: ConversationKey, result: str) -> Transaction:
        """Give the paused conversation back to the bot and commit (see ``Turns.unpause``)."""

        async def step(loaded: Loaded) -> Planned:
            return await self.turns.unpause(key, loaded, result)

        return await self._transact(key, step)

    async def agent_reply(
        self, key: ConversationKey, reply: OutboundMessage, agent: str | None
    ) -> Transaction:
        """Commit a person's reply into the outbox and the transcript."""

        async def step(loaded: Loaded) -> Planned:
            return self.turns.agent_reply(key, loaded, reply, agent)

        return await self._transact(key, step)

    async def initialize(self, key: ConversationKey, changes: Mapping[str, Any]) -> Transaction:
        """Set protected state (checked ``changes``) and commit."""

        async def step(loaded: Loaded) -> Planned:
            return self.turns.initialize(key, loaded, changes)

        return await self._transact(key, step)

    def _ttl(self, document: ConversationDocument) -> int | None:
        """The conversation's TTL, long enough that it outlives its last timer."""
        last = timers.latest(document)
        if self.ttl is None or last is None:
            return self.ttl
        until_last = math.ceil(last - self.turns.stepper.clock().timestamp())
        return max(self.ttl, until_last + self.ttl)

    async def _transact(
        self, key: ConversationKey, step: Step, *, seen: Seen | None = None
    ) -> Transaction:
        """Run ``step`` and commit what it planned; on a conflict, step again.

        The caller holds :meth:`lock` for ``key``. A step that plans nothing (a duplicate)
        commits nothing and leaves nothing cached: its document may owe replies another
        sender is marking. With ``seen``, a message the store has seen (beyond the
        document's own short inbox) is a duplicate too, found by the commit itself.

        Raises:
            ConflictError: the commit lost ``max_attempts`` times in a row.
            SnapshotError: the stored document cannot be read.
            StoreUnavailableError: the store is down.
        """
        started = time.perf_counter()
        loaded = await self.load(key)
        logs.bind(*_where(loaded))
        expected = loaded.revision
        for attempt in range(1, self.max_attempts + 1):
            # Read before the step: it changes the loaded document in place.
            was_paused = loaded.document is not None and loaded.document.paused is not None
            before = tuple(_where(loaded)[1])
            planned = await step(loaded)
            if planned.document is None:
                return Transaction(planned.outcome, loaded, None, planned.record)
            paused = planned.document.paused
            if paused is not None and not was_paused:  # indexed first: never missing
                await self.store.mark_paused(key, handoff.since(paused))
            result = await self.store.commit(
                key,
                planned.document,
                expected=loaded.revision,
                ttl=self._ttl(planned.document),
                forget=sorted(loaded.marks()),  # their entries left the outbox in the step
                digest=loaded.digest,  # a cached copy never overwrites a changed document
                **_extras(timers.earliest(planned.document), seen),
            )
            if result.duplicate:
                outcome = Outcome(duplicate=True, revision=loaded.revision)
                return Transaction(outcome, loaded, None, None)
            if result.ok:
                if was_paused and paused is None:
                    await self.store.mark_paused(key, None)
                done = functools.partial(_step_done, before, planned, attempt - 1, started)
                return self._committed(key, planned, loaded, result, done)
            assert result.current is not None
            logger.debug("conflict on %s (attempt %d)", key, attempt)
            if self.observers:
                emit(self.observers, Conflict(_where(loaded)[0]))
            expected = loaded.revision
            if attempt == 1:
                loaded = result.current  # the conflict answer is the current document
                continue
            # Contended: back off, then recompute from a snapshot taken after the wait.
            await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))  # noqa: S311
            loaded = await self.store.load(key)
        raise ConflictError(str(key), expected, loaded.revision, self.max_attempts)

    def _committed(
        self,
        key: ConversationKey,
        planned: Planned,
        loaded: Loaded,
        result: CommitResult,
        done: Callable[[], StepDone],
    ) -> Transaction:
        """What a commit that landed leaves: the transaction, the observers told."""
        assert planned.document is not None
        planned.outcome.revision = result.revision
        planned.outcome.record = planned.record
        committed = Loaded(
            planned.document, result.revision, raw=result.raw, stalled=loaded.stalled
        )
        observer = self.turns.stepper.observer
        if observer is not None and planned.record is not None:
            observer.committed(planned.record)
        if planned.record is not None and (self.observers or tracing.recording()):
            self._report(done())
        if not self.turns.keeps_outbox:
            self.remember(key, committed)  # no replies owed: this is what is stored
        return Transaction(planned.outcome, loaded, committed, planned.record)

    def _report(self, done: StepDone) -> None:
        """Tell the observers, the current span and the log context about a committed step."""
        logs.bind(done.flow, done.after)
        if self.observers:
            emit(self.observers, done)
        tracing.annotate(
            {
                "flow": done.flow or "",
                "state.before": ",".join(done.before),
                "state.after": ",".join(done.after),
                "retries": done.retries,
            }
        )


def _where(loaded: Loaded) -> tuple[str | None, list[str]]:
    """The flow and active states of a loaded conversation (none for a new one)."""
    document = loaded.document
    if document is None:
        return None, []
    return document.chart.flow, document.chart.configuration


def _step_done(before: tuple[str, ...], planned: Planned, retries: int, started: float) -> StepDone:
    """What a committed step did, for the observers: entered states in order, the final."""
    outcome = planned.outcome
    after = tuple(outcome.configuration)
    taken = planned.record.transitions if planned.record is not None else ()
    entered = [target for _, target, _ in taken if target is not None]
    entered += [state for state in after if state not in before]
    return StepDone(
        flow=outcome.flow,
        before=before,
        after=after,
        entered=tuple(dict.fromkeys(entered)),
        final=after[-1] if outcome.finished and after else None,
        seconds=time.perf_counter() - started,
        retries=retries,
    )


def _extras(wake_at: float | None, seen: Seen | None) -> dict[str, Any]:
    """The commit's newer keywords, passed only when used.

    A store written before timers and seen ids existed still serves what uses neither.
    """
    extras: dict[str, Any] = {}
    if wake_at is not None:
        extras["wake_at"] = wake_at
    if seen is not None:
        extras["seen"] = seen
    return extras

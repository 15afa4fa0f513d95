"""What a refused request means for the next ones: the auth pause, bounded retries.

Per business number, :class:`SendGuard` remembers whether sending is paused for an auth
failure (one ERROR and one ``on_alert`` per pause; a probe request now and then finds out
when it is fixed) and how often the same payload met a configuration error (after
``config_retries`` it is refused for good). See :mod:`flowhq.channels.whatsapp.codes`.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from attrs import frozen

from flowhq.channels.whatsapp.codes import ErrorClass
from flowhq.errors import DeliveryError

__all__ = ["AlertCallback", "Failure", "SendGuard"]

logger = logging.getLogger("flowhq.channels.whatsapp")

AlertCallback = Callable[[str], "Awaitable[None] | None"]
"""Called with a line an operator must act on (the access token must be fixed)."""

COUNTED_LIMIT = 10_000
"""Payloads whose configuration errors are counted at once (the oldest forgotten first)."""


@frozen
class Failure:
    """One failed attempt: its class, what to report, and how long Meta asked to wait."""

    reason: str
    kind: ErrorClass
    code: int | None = None
    wait: float | None = None


class SendGuard:
    """The pause and the counts of the numbers one messenger sends from.

    Args:
        config_retries: Tries of a payload that meets configuration errors before it is
            refused for good.
        probe_every: Seconds between probe requests while sending is paused.
        on_alert: Told once per pause that the token must be fixed.
    """

    def __init__(
        self, *, config_retries: int, probe_every: float, on_alert: AlertCallback | None
    ) -> None:
        self.config_retries = config_retries
        self.probe_every = probe_every
        self.on_alert = on_alert
        self._paused: dict[str, tuple[Failure, float]] = {}  # number -> (why, next probe)
        self._counts: OrderedDict[str, int] = OrderedDict()

    def paused(self, number: str) -> Failure | None:
        """Why sending from ``number`` is paused, unless it is time for a probe (``None``).

        A probe is the one request let through; its answer pauses again or resumes.
        """
        pause = self._paused.get(number)
        if pause is None:
            return None
        why, next_probe = pause
        now = time.monotonic()
        if now < next_probe:
            return why
        self._paused[number] = (why, now + self.probe_every)
        return None

    def is_paused(self, number: str) -> bool:
        """Whether sending from ``number`` is paused for an auth failure."""
        return number in self._paused

    def resume(self, number: str) -> None:
        """Sending from ``number`` works (again)."""
        if self._paused.pop(number, None) is not None:
            logger.warning("WhatsApp accepts requests for number %s again: sending resumes", number)

    def succeeded(self, number: str, payload: dict[str, Any]) -> None:
        """A request went through: resume the number, forget the payload's count."""
        self.resume(number)
        if self._counts:
            self._counts.pop(_fingerprint(payload), None)

    async def refusal(
        self, number: str, failure: Failure, payload: dict[str, Any], *, sent: int
    ) -> DeliveryError:
        """The error to raise for a request refused for good or for now (not throttling)."""
        reason = failure.reason
        if failure.kind is ErrorClass.AUTH:
            await self._pause(number, failure)
            return DeliveryError(f"sending paused: {reason}", sent=sent, code=failure.code)
        if failure.kind is ErrorClass.CONFIGURATION:
            tries = self._count(payload)
            if tries < self.config_retries:
                logger.warning("WhatsApp configuration error (try %d): %s", tries, reason)
                return DeliveryError(reason, sent=sent, code=failure.code)
            reason = f"{reason}; gave up after {tries} tries"
        logger.warning("WhatsApp refused a message (code %s): %s", failure.code, reason)
        return DeliveryError(reason, sent=sent, permanent=True, code=failure.code)

    async def _pause(self, number: str, failure: Failure) -> None:
        if number in self._paused:
            return  # alerted already; this was a probe
        self._paused[number] = (failure, time.monotonic() + self.probe_every)
        text = (
            f"WhatsApp refuses the access token of number {number} (code {failure.code}): "
            f"{failure.reason}. Replies are kept and go out in order once it is fixed."
        )
        logger.error("%s", text)
        if self.on_alert is None:
            return
        try:
            result = self.on_alert(text)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the operator's hook must not lose the replies
            logger.exception("on_alert failed")

    def _count(self, payload: dict[str, Any]) -> int:
        key = _fingerprint(payload)
        tries = self._counts.get(key, 0) + 1
        self._counts[key] = tries
        self._counts.move_to_end(key)
        while len(self._counts) > COUNTED_LIMIT:
            self._counts.popitem(last=False)
        return tries


def _fingerprint(payload: dict[str, Any]) -> str:
    """The same reply to the same user has the same fingerprint (not a secret: a key)."""
    raw = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=16).hexdigest()

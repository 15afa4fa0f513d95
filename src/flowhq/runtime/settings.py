"""Grouped settings of a ``Headquarters``, in the manner of httpx's ``Timeout``/``Limits``.

Each group is a frozen value; pass the ones you change::

    Headquarters(flows=[Signup], store=store,
                 api=ApiOptions(client, timeout=3.0, retries=1),
                 limits=Limits(max_text=1000))
"""

from __future__ import annotations

import httpx
from attrs import field, frozen
from attrs.validators import ge, gt, optional

__all__ = ["ApiOptions", "DeliveryOptions", "Limits"]


@frozen
class ApiOptions:
    """How ``ApiCall`` and ``make_api_request`` talk to your APIs.

    Attributes:
        client: The httpx client requests go through (its ``base_url``, auth, limits).
        timeout: Seconds per attempt (``None``: the client's own; ``ApiCall(timeout=...)``
            overrides per state).
        retries: Extra attempts after a timeout, a connection error or a 5xx answer.
        backoff: Seconds before the first retry (doubled each time, with jitter).
    """

    client: httpx.AsyncClient | None = None
    timeout: float | None = field(default=None, validator=optional(gt(0)))
    retries: int = field(default=2, validator=ge(0))
    backoff: float = field(default=0.2, validator=ge(0))


@frozen
class DeliveryOptions:
    """When committed replies that did not go out are sent again.

    Attributes:
        redelivery_after: Seconds after which a committed reply still not marked delivered
            counts as lost (its sender crashed) and is sent by the next handling of the
            conversation or by ``redeliver()``. Younger ones are left to the process
            sending them, so two processes never both send a reply in normal operation.
        duplicate_grace: Seconds a retried message (a duplicate whose replies are still
            pending) leaves their original sender before sending them itself.
    """

    redelivery_after: float = field(default=30.0, validator=ge(0))
    duplicate_grace: float = field(default=2.0, validator=ge(0))


@frozen
class Limits:
    """Bounds that keep one conversation from costing too much.

    Attributes:
        max_steps: Transitions per message, to stop loops (``StepLimitError``).
        max_text: Longest accepted inbound text; longer ones are refused with a reply.
        max_attempts: Commit attempts before ``ConflictError``.
    """

    max_steps: int = field(default=100, validator=ge(1))
    max_text: int = field(default=4096, validator=ge(1))
    max_attempts: int = field(default=20, validator=ge(1))

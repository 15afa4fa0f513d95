"""Who may use the console: the host names it is served as, and its access token.

The policy only, without a web framework (the ``flowhq`` command reads it before Starlette
is imported); :mod:`flowhq.dev.guard` applies it to requests. See docs/dev-console.md
("Safe on a network").
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Iterable

from attrs import field, frozen

__all__ = ["LOOPBACK_NAMES", "WILDCARDS", "Access", "host_name", "is_loopback", "needs_token"]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""The names that mean "this machine only". Other loopback addresses (``127.0.0.2``) count as
beyond it: the rule errs towards asking for the token."""
WILDCARDS = frozenset({"0.0.0.0", "::"})  # noqa: S104 - the addresses that mean "every interface"


def host_name(value: str) -> str | None:
    """The name in a ``Host`` header or a host option, normalised; ``None`` when malformed.

    Lower case, without the port, the IPv6 brackets or a trailing dot; an IP address in its
    canonical form (``[0:0::1]:80`` and ``::1`` are one name).
    """
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, port = value[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
    elif value.count(":") > 1:  # an IPv6 address given without brackets (an option, not a Host)
        name = value
    else:
        name, _, port = value.partition(":")
        if port and not port.isdigit():
            return None
    name = name.removesuffix(".")
    if not name:
        return None
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name if ":" not in name else None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (see :data:`LOOPBACK_NAMES`)."""
    return host_name(host) in LOOPBACK_NAMES


def needs_token(bind: str, *, redis_is_local: bool = True) -> bool:
    """Whether a console must require a token.

    It must when it listens beyond loopback (whoever connects could run flows and their API
    calls) or reads a non-local Redis (and show that Redis's conversations).
    """
    return not is_loopback(bind) or not redis_is_local


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@frozen
class Access:
    """Who the console answers: the hosts it is served as, and the token it requires.

    The default serves loopback only, without a token. Build one with :meth:`serving`.

    Attributes:
        hosts: The ``Host`` names accepted (normalised by :func:`host_name`).
        token: The access token every request but the static files must carry, or ``None``.
        any_address: Accept any IP address as host (a wildcard bind: an address cannot be
            rebound, only a name can).
    """

    hosts: frozenset[str] = LOOPBACK_NAMES
    token: str | None = field(default=None, repr=False)
    any_address: bool = False

    @classmethod
    def serving(
        cls, bind: str, *, allowed_hosts: Iterable[str] = (), token: str | None = None
    ) -> Access:
        """The access of a console listening on ``bind``.

        Args:
            bind: The listening address. The loopback names are always accepted; a specific
                address adds itself, a wildcard (``0.0.0.0``, ``::``) adds any IP address and
                this machine's name.
            allowed_hosts: More names the console is served as (a DNS name, a proxy's name).
            token: The access token, or ``None``.

        Raises:
            ValueError: when a name is malformed, or the token is empty.
        """
        names = set(LOOPBACK_NAMES)
        for given in (bind, *allowed_hosts):
            name = host_name(given)
            if name is None:
                raise ValueError(f"not a host name: {given!r}")
            names.add(name)
        wildcard = host_name(bind) in WILDCARDS
        if wildcard:
            names -= WILDCARDS  # no browser asks for 0.0.0.0 by that name on purpose
            machine = host_name(socket.gethostname())
            if machine is not None:
                names.add(machine)
        if token is not None and not token:
            raise ValueError("the access token is empty")
        return cls(frozenset(names), token=token, any_address=wildcard)

    def allows_host(self, header: str) -> bool:
        """Whether a request's ``Host`` header names this console."""
        name = host_name(header)
        if name is None:
            return False
        return name in self.hosts or (self.any_address and _is_address(name))

    def admits(self, authorization: str, query_token: str) -> bool:
        """Whether a request carries the token (always true without one).

        The comparison takes the same time however much of the token is right.

        Args:
            authorization: Its ``Authorization`` header (``Bearer TOKEN``), or ``""``.
            query_token: Its ``?token=`` (an ``<img>`` or an ``EventSource`` cannot send a
                header), or ``""``.
        """
        if self.token is None:
            return True
        scheme, _, credentials = authorization.partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else ""
        given = given or query_token
        # Bytes: compare_digest refuses non-ASCII text, and a refusal must not be a 500.
        return hmac.compare_digest(given.encode(), self.token.encode())

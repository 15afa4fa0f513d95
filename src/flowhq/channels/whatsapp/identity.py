"""Who a WhatsApp update is from: one conversation per person, whatever id Meta gives.

Meta knows a user by their phone number (``wa_id``) and by a business-scoped user id
(BSUID, ``US.1349…``); a user who adopts a username may hide the number, and a user may
change number (a new BSUID comes with it). :class:`Identities` maps every id of a person to
one conversation through the store (:meth:`~flowhq.persistence.store.Store.link_identities`)
and remembers where replies go now: the phone number when there is one, else the BSUID,
and from which business number (the one the user last wrote to).

- The first time ids appear together they are linked: a conversation started by phone
  keeps its key when the BSUID shows up, and one started by BSUID keeps it when the number
  does.
- ``user_changed_number`` and ``user_changed_user_id`` notices link the new ids
  (``system.wa_id``, ``system.user_id``) to the conversation of the old ones (``from``,
  ``system.previous_user_id``), and replies follow to the new address: the new number,
  else the new BSUID (after a changed BSUID only when no number reaches the user).

A process keeps what it learnt in a bounded cache, so a known sender costs no round trip.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping

import attrs

from flowhq.channels.whatsapp._message import CHANNEL
from flowhq.messaging.types import InboundMessage
from flowhq.persistence.store import Store

__all__ = ["Identities"]

logger = logging.getLogger("flowhq.channels.whatsapp")

CACHE_SIZE = 50_000
"""Ids whose conversation (and conversations whose address) a process remembers."""


class Identities:
    """Maps the ids of WhatsApp users to their conversations, and conversations to addresses.

    Args:
        store: Where the mapping lives (shared by every process of the bot).
        cache_size: How many ids and addresses this process remembers.
    """

    def __init__(self, store: Store, *, cache_size: int = CACHE_SIZE) -> None:
        self.store = store
        self.cache_size = cache_size
        self._canonical: OrderedDict[str, str] = OrderedDict()
        self._address: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return f"Identities(cached={len(self._canonical)})"

    async def resolve(self, message: InboundMessage) -> InboundMessage:
        """``message`` addressed to its person's conversation.

        Raises:
            StoreUnavailableError: the store cannot be reached (keep the update for later).
        """
        ids, address, keep_number = _ids_of(message)
        canonical = self._known(ids, address)
        if canonical is None:
            canonical, address = await self._link(ids, address, keep_number=keep_number)
            if message.kind == "system":
                logger.info("WhatsApp: a user's id changed; their conversation follows")
            for identifier in ids:
                _remember(self._canonical, identifier, canonical, self.cache_size)
            _remember(self._address, canonical, address, self.cache_size)
        if canonical == message.identifier:
            return message
        return attrs.evolve(message, identifier=canonical)

    async def _link(self, ids: list[str], address: str, *, keep_number: bool) -> tuple[str, str]:
        """Link ``ids``: the conversation and where its replies go now.

        With ``keep_number`` (a changed BSUID, no number in the notice) ``address`` only
        replaces an address that was one of the user's BSUIDs: a known number still reaches
        the user, and some messages (authentication templates) cannot go to a BSUID.
        """
        if not keep_number:
            return await self.store.link_identities(CHANNEL, ids, address=address), address
        canonical = await self.store.link_identities(CHANNEL, ids)
        current = await self.store.identity_address(CHANNEL, canonical)
        if current is not None and current.partition("|")[0] not in ids:
            return canonical, current
        return await self.store.link_identities(CHANNEL, ids, address=address), address

    def _known(self, ids: list[str], address: str) -> str | None:
        """The conversation when this process already knows every id and the address."""
        found = {self._canonical.get(identifier) for identifier in ids}
        if len(found) != 1:
            return None
        canonical = found.pop()
        if canonical is None or self._address.get(canonical) != address:
            return None
        return canonical

    async def address(self, identifier: str) -> str:
        """Where replies to the conversation ``identifier`` go: phone number or BSUID.

        Raises:
            StoreUnavailableError: the store cannot be reached.
        """
        address = self._address.get(identifier)
        if address is None:
            address = await self.store.identity_address(CHANNEL, identifier) or identifier
            _remember(self._address, identifier, address, self.cache_size)
        return address


def _ids_of(message: InboundMessage) -> tuple[list[str], str, bool]:
    """The ids a message names its sender by (the conversation's first), and the address.

    The address is ``to``, or ``to|phone_number_id`` with our number the user wrote to;
    the flag says a number the conversation is known by stays the address (``_link``).
    """
    ids, address, keep_number = _sender_ids(message)
    number = message.data.get("phone_number_id")
    if isinstance(number, str) and number:
        address = f"{address}|{number}"
    return ids, address, keep_number


def _sender_ids(message: InboundMessage) -> tuple[list[str], str, bool]:
    """The sender's ids, old ones first, where replies go now, and if only without a number."""
    ids = [message.identifier]
    if message.user_id and message.user_id not in ids:
        ids.append(message.user_id)
    system = message.data.get("system") if message.kind == "system" else None
    if not isinstance(system, Mapping):
        return ids, message.identifier, False
    # Meta gives the new number as `wa_id`; `new_wa_id` is the On-Premises API's old name.
    new_number = _text(system, "wa_id") or _text(system, "new_wa_id")
    new_user_id = _text(system, "user_id")
    for new in (new_number, new_user_id):
        if new is not None and new not in ids:
            ids.append(new)
    if new_number is not None:
        return ids, new_number, False
    if new_user_id is None:
        return ids, message.identifier, False
    if system.get("type") == "user_changed_number":  # the old number is no longer theirs
        return ids, new_user_id, False
    if message.identifier != message.user_id:  # the notice names the number: it stays
        return ids, message.identifier, False
    # A changed BSUID: the new one replaces the old, not a number known from other messages.
    return ids, new_user_id, True


def _text(system: Mapping[str, object], key: str) -> str | None:
    value = system.get(key)
    return value if isinstance(value, str) and value else None


def _remember(cache: OrderedDict[str, str], key: str, value: str, limit: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)

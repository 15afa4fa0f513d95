"""Identities: several ids of one user, one conversation (docs/whatsapp.md, "Identity").

A channel may know a user by more than one id: WhatsApp by the phone number and by the
business-scoped user id (BSUID), and a user may change either. The store keeps, per
channel, which conversation each id belongs to (its *canonical* id, the identifier of the
conversation key) and the address replies to that conversation go to now.

:meth:`Store.link_identities` is one atomic step: the first id already known names the
conversation (else the first id given starts one), every other id is linked to it, and the
address is set. With Redis it is one script on one hash per channel
(``flowhq:identities:{whatsapp}``, its own cluster slot).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LINK_IDENTITIES", "IdentityBook"]

# KEYS[1]: the channel's hash. ARGV[1]: the address ('' keeps it), ARGV[2..]: the ids.
# Fields: "id:<id>" -> canonical id, "to:<canonical id>" -> address.
LINK_IDENTITIES = """
local canonical = nil
for i = 2, #ARGV do
  canonical = redis.call('HGET', KEYS[1], 'id:' .. ARGV[i])
  if canonical then break end
end
if not canonical then canonical = ARGV[2] end
for i = 2, #ARGV do
  redis.call('HSET', KEYS[1], 'id:' .. ARGV[i], canonical)
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'to:' .. canonical, ARGV[1])
end
return canonical
"""


class IdentityBook:
    """The in-memory twin of the Redis script, for ``MemoryStore`` (same rules)."""

    def __init__(self) -> None:
        self._canonical: dict[tuple[str, str], str] = {}
        self._address: dict[tuple[str, str], str] = {}

    def link(self, channel: str, identifiers: Sequence[str], address: str | None) -> str:
        """Link ``identifiers`` to one conversation; return its canonical id."""
        if not identifiers:
            raise ValueError("link needs at least one identifier")
        found = (self._canonical.get((channel, i)) for i in identifiers)
        canonical = next((c for c in found if c is not None), identifiers[0])
        for identifier in identifiers:
            self._canonical[channel, identifier] = canonical
        if address:
            self._address[channel, canonical] = address
        return canonical

    def address(self, channel: str, canonical: str) -> str | None:
        """Where replies of the conversation ``canonical`` go now, if recorded."""
        return self._address.get((channel, canonical))

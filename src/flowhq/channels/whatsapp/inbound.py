"""Parsing WhatsApp Cloud API webhook deliveries.

A delivery is an envelope of entries, each with changes; a change with
``"field": "messages"`` carries the users' messages and the delivery statuses of the
messages we sent::

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA id>",
                "changes": [{"field": "messages",
                             "value": {"metadata": {...}, "contacts": [...],
                                       "messages": [...], "statuses": [...]}}]}]}

A broken envelope is refused whole with :class:`~flowhq.errors.ChannelError`. Inside a
good envelope one odd item never costs the others: it is skipped with a readable line (and
a warning in the log), or passed on as an ``"unsupported"`` message when it names a sender.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from flowhq.channels.whatsapp._fields import (
    ItemError,
    describe,
    epoch,
    obj,
    optional_list,
    optional_obj,
    optional_str,
    required_str,
    show,
)
from flowhq.channels.whatsapp._message import Contact, parse_message
from flowhq.errors import ChannelError
from flowhq.messaging.types import InboundMessage

__all__ = ["MAX_UPDATES", "Status", "StatusError", "WebhookBatch", "parse_webhook"]

logger = logging.getLogger("flowhq.channels.whatsapp")

MAX_UPDATES = 1000
"""The most updates (messages and statuses) one delivery may carry before it is refused."""

_OBJECT = "whatsapp_business_account"


@frozen
class StatusError:
    """Why Meta could not deliver a message (an entry of a status's ``errors``).

    Attributes:
        code: Meta's error code, e.g. ``131047`` (more than 24 hours since the user wrote).
        title: The short title Meta gives the code.
        message: Meta's message, often the same as the title.
        details: The longer explanation from ``error_data.details``.
    """

    code: int | None
    title: str | None = None
    message: str | None = None
    details: str | None = None


@frozen(kw_only=True)
class Status:
    """What became of a message we sent: sent, delivered, read, played or failed.

    Attributes:
        message_id: The ``wamid`` of our message the status is about.
        recipient: The phone number (WhatsApp id) of the user it went to, or their
            business-scoped user id when Meta withholds the number.
        status: ``"sent"``, ``"delivered"``, ``"read"``, ``"played"``, ``"failed"``, or
            whatever new value Meta sends.
        timestamp: When it happened, in epoch seconds.
        errors: Why it failed, for ``"failed"``.
        phone_number_id: Our business phone number the message went out from.
        conversation_id: The conversation Meta counts the message in, if given.
        pricing_category: How Meta bills it (``"service"``, ``"marketing"``, ...), if given.
        recipient_user_id: The user's business-scoped user id (BSUID), if given.
        recipient_parent_user_id: Their parent BSUID, if given.
        recipient_username: Their username (``@name``), which Meta gives with
            ``delivered`` and ``read`` statuses of users who adopted one.
        recipient_profile_name: Their WhatsApp profile name, if Meta gives it (``sent``,
            ``delivered`` and ``read`` statuses).
        callback_data: The ``biz_opaque_callback_data`` the message was sent with: flowhq
            puts the conversation and outbox entry there (see ``entry_of``).
    """

    message_id: str
    recipient: str
    status: str
    timestamp: float | None = None
    errors: tuple[StatusError, ...] = ()
    phone_number_id: str | None = None
    conversation_id: str | None = None
    pricing_category: str | None = None
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    recipient_username: str | None = None
    recipient_profile_name: str | None = None
    callback_data: str | None = None


@frozen
class WebhookBatch:
    """Everything one webhook delivery carried, in the order it came.

    Attributes:
        messages: The users' messages of all entries and changes.
        statuses: Delivery statuses of the messages we sent.
        skipped: One readable line per item left out (another field, a malformed item).
    """

    messages: list[InboundMessage] = field(factory=list)
    statuses: list[Status] = field(factory=list)
    skipped: list[str] = field(factory=list)


def parse_webhook(
    body: bytes | Mapping[str, Any], *, max_updates: int = MAX_UPDATES
) -> WebhookBatch:
    """Read a webhook delivery into messages and statuses.

    Args:
        body: The raw request body, or the JSON already parsed.
        max_updates: Refuse deliveries with more updates than this: messages and statuses,
            with a change that has neither counting as one. The bound keeps a forged or
            broken delivery from costing unbounded work before anything is recorded.

    Returns:
        The messages and statuses, and a line for each item skipped.

    Raises:
        ChannelError: The body is not JSON, not a WhatsApp envelope, or too large.
    """
    changes = list(_changes(_load(body)))
    updates = sum(_count(value) for _, _, value in changes)
    if updates > max_updates:
        raise ChannelError(f"delivery carries {updates} updates, more than {max_updates}")
    batch = WebhookBatch()
    for where, field_name, value in changes:
        if value is None:
            _skip(batch, f"{where}: field {show(field_name)} is not 'messages'", logging.DEBUG)
        else:
            _read_change(batch, where, value)
    return batch


def _load(body: object) -> Mapping[str, Any]:
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = json.loads(bytes(body).decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError as error:
            raise ChannelError(f"body is not UTF-8: {error.reason} at byte {error.start}") from None
        except ValueError as error:  # JSONDecodeError, and NaN / Infinity
            raise ChannelError(f"body is not JSON: {error}") from None
        except RecursionError:
            raise ChannelError("body is not JSON this parser can read: nested too deep") from None
    elif not isinstance(body, Mapping):
        raise ChannelError(f"body is {describe(body)}, not bytes or a mapping")
    return _object_or_error(body, "body")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON value")


def _object_or_error(value: object, what: str) -> Mapping[str, Any]:
    """``value`` when it is an object, else a :class:`ChannelError` saying so."""
    try:
        return obj(value, what)
    except ItemError as problem:
        raise ChannelError(str(problem)) from None


def _changes(
    payload: Mapping[str, Any],
) -> Iterator[tuple[str, object, Mapping[str, Any] | None]]:
    """Walk the envelope: ``(where, field, value)`` per change, checking its shape.

    ``value`` is ``None`` for changes of fields other than ``"messages"``, which are not read.
    """
    kind = payload.get("object")
    if kind != _OBJECT:
        raise ChannelError(f"'object' is {show(kind)}, not {_OBJECT!r}")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise ChannelError(f"'entry' is {describe(entries)}, not a list")
    for e, raw_entry in enumerate(entries):
        entry = _object_or_error(raw_entry, f"entry {e}")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise ChannelError(f"entry {e}: 'changes' is {describe(changes)}, not a list")
        for c, raw_change in enumerate(changes):
            change = _object_or_error(raw_change, f"entry {e}, change {c}")
            where = f"entry {e}, change {c}"
            field_name = change.get("field")
            # Only 'messages' values are read, so only they must be objects: a new field
            # with another shape must not cost the messages of the other changes.
            if field_name != "messages":
                yield where, field_name, None
                continue
            yield where, field_name, _object_or_error(change.get("value"), f"{where}: 'value'")


def _count(value: Mapping[str, Any] | None) -> int:
    if value is None:
        return 1
    items = sum(
        len(part)
        for part in (value.get("messages"), value.get("statuses"))
        if isinstance(part, list)
    )
    return max(items, 1)


def _read_change(batch: WebhookBatch, where: str, value: Mapping[str, Any]) -> None:
    metadata = _metadata(batch, where, value)
    profiles = _profiles(value.get("contacts"))
    for i, raw in enumerate(_items(batch, where, value, "messages")):
        try:
            message, problem = parse_message(raw, change_data=metadata, profiles=profiles)
        except ItemError as reason:
            _skip(batch, f"{where}, message {i}: {reason}")
            continue
        if problem is not None:
            logger.warning("%s, message %d: passed on as unsupported: %s", where, i, problem)
        batch.messages.append(message)
    phone_number_id = metadata.get("phone_number_id")
    for i, raw in enumerate(_items(batch, where, value, "statuses")):
        try:
            batch.statuses.append(_status(raw, phone_number_id, profiles))
        except ItemError as reason:
            _skip(batch, f"{where}, status {i}: {reason}")
    errors = value.get("errors")
    if errors is not None:  # a problem Meta reports about the app or the number, not a message
        _skip(batch, f"{where}: Meta reports errors: {_codes(errors)}")


def _metadata(batch: WebhookBatch, where: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """Our phone number's id and display number, carried into every message's data."""
    try:
        metadata = optional_obj(value, "metadata") or {}
        return {
            "phone_number_id": optional_str(metadata, "phone_number_id"),
            "display_phone_number": optional_str(metadata, "display_phone_number"),
        }
    except ItemError as reason:
        # The messages are still worth reading; they just lack our number.
        logger.warning("%s: metadata ignored: %s", where, reason)
        return {"phone_number_id": None, "display_phone_number": None}


def _profiles(contacts: object) -> dict[str, Contact]:
    """The users of a change by phone number and by BSUID; best effort.

    A message's own ``from``/``from_user_id`` decide who sent it, a status's
    ``recipient_id``/``recipient_user_id`` whom it went to; a contact adds names.
    """
    found: dict[str, Contact] = {}
    if not isinstance(contacts, list):
        return found
    for raw in contacts:
        if not isinstance(raw, Mapping):
            continue
        profile = raw.get("profile")
        profile = profile if isinstance(profile, Mapping) else {}
        contact = Contact(
            wa_id=_string(raw.get("wa_id")),
            user_id=_string(raw.get("user_id")),
            parent_user_id=_string(raw.get("parent_user_id")),
            name=_string(profile.get("name")),
            username=_string(profile.get("username")),
        )
        for identifier in (contact.wa_id, contact.user_id):
            if identifier is not None:
                found[identifier] = contact
    return found


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _items(batch: WebhookBatch, where: str, value: Mapping[str, Any], key: str) -> Sequence[Any]:
    try:
        return optional_list(value, key) or ()
    except ItemError as reason:
        _skip(batch, f"{where}: {reason}")
        return ()


def _status(raw: object, phone_number_id: str | None, profiles: Mapping[str, Contact]) -> Status:
    item = obj(raw, "the status")
    errors = tuple(_status_error(error) for error in optional_list(item, "errors") or ())
    conversation = optional_obj(item, "conversation")
    pricing = optional_obj(item, "pricing")
    user_id = optional_str(item, "recipient_user_id")
    recipient = optional_str(item, "recipient_id") or user_id
    if recipient is None:
        raise ItemError("no 'recipient_id' and no 'recipient_user_id'")
    contact = profiles.get(recipient) or profiles.get(user_id or "") or Contact()
    return Status(
        message_id=required_str(item, "id"),
        recipient=recipient,
        recipient_user_id=user_id,
        recipient_parent_user_id=optional_str(item, "recipient_parent_user_id"),
        recipient_username=contact.username,
        recipient_profile_name=contact.name,
        callback_data=optional_str(item, "biz_opaque_callback_data"),
        status=required_str(item, "status"),
        timestamp=epoch(item, "timestamp"),
        errors=errors,
        phone_number_id=phone_number_id,
        conversation_id=optional_str(conversation, "id"),
        pricing_category=optional_str(pricing, "category"),
    )


def _status_error(raw: object) -> StatusError:
    error = obj(raw, "an error")
    code = error.get("code")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise ItemError(f"error 'code' is {describe(code)}, not an integer")
    details = optional_obj(error, "error_data")
    return StatusError(
        code,
        title=optional_str(error, "title"),
        message=optional_str(error, "message"),
        details=optional_str(details, "details"),
    )


def _codes(errors: object) -> str:
    if not isinstance(errors, list):
        return describe(errors)
    codes = [error.get("code") if isinstance(error, Mapping) else None for error in errors]
    return ", ".join(_code(code) for code in codes) or "none"


def _code(code: object) -> str:
    # str() of a huge int raises (the int max-str-digits limit); Meta's codes have a few digits.
    if isinstance(code, int) and not isinstance(code, bool) and abs(code) < 10**12:
        return str(code)
    return "?"


def _skip(batch: WebhookBatch, line: str, level: int = logging.WARNING) -> None:
    batch.skipped.append(line)
    logger.log(level, "skipped %s", line)

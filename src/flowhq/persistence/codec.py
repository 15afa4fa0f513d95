"""JSON codec of the conversation document: orjson for the bytes, one strict cattrs converter.

Decoding is strict (docs/persistence.md): a field of the wrong type, a field this flowhq does
not know, or a value out of the range flowhq writes (:mod:`flowhq.persistence.integrity`) is a
``SnapshotError``, never coerced, and nothing else escapes ``decode``. cattrs would otherwise
turn ``null`` into the string ``"None"``, a string into a list of its characters and ``{}``
into ``[]``, and the coerced document would then be committed over the original. Documents
written by schema 1 are upgraded on the way in.

The converter is built per codec (no module-level singleton): stores own theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
from cattrs import Converter, transform_error
from cattrs.cols import (
    is_mapping,
    is_sequence,
    list_structure_factory,
    mapping_structure_factory,
)
from cattrs.errors import BaseValidationError, CattrsError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from flowhq.errors import SnapshotError, TokenCipherError
from flowhq.persistence.integrity import document_problem
from flowhq.persistence.secrets import PREFIX, TokenCipher
from flowhq.state.document import (
    SCHEMA_VERSION,
    ConversationDocument,
    TranscriptEntry,
    ValidationEntry,
)

__all__ = ["Codec", "JsonCodec", "make_converter"]


class Codec(Protocol):
    """Turns a conversation document into bytes and back."""

    def encode(self, document: ConversationDocument) -> bytes:
        """Serialise ``document``."""
        ...

    def decode(self, key: str, raw: bytes) -> ConversationDocument:
        """Parse ``raw`` stored at ``key``; raise ``SnapshotError`` when it is not a document."""
        ...


def _exact(kind: type) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _number(value: Any, _: Any) -> float:
    if type(value) not in (int, float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _checked(kind: type, factory: Callable[..., Any]) -> Callable[[Any, Converter], Any]:
    """Wrap a cattrs collection factory so only ``kind`` (list or dict) is accepted."""

    def make(type_: Any, converter: Converter) -> Callable[[Any, Any], Any]:
        inner = factory(type_, converter)

        def structure(value: Any, target: Any) -> Any:
            if type(value) is not kind:
                raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
            return inner(value, target)

        return structure

    return make


def _pair(value: Any, _: Any) -> tuple[str, str]:
    if type(value) is not list or len(value) != 2 or not all(type(v) is str for v in value):
        raise TypeError("expected a [id, title] pair of strings")
    return value[0], value[1]


def _identity(value: Any) -> Any:
    return value


def _fail(what: str) -> TypeError:
    return TypeError(f"expected {what}")


def _strs(value: Any, _: Any) -> list[str]:
    if type(value) is not list or not all(type(item) is str for item in value):
        raise _fail("a list of strings")
    return value


def _json_object(value: Any, _: Any) -> dict[str, Any]:
    if type(value) is not dict or not all(type(key) is str for key in value):
        raise _fail("an object")
    return value


def _of(check: Callable[[Any], bool], what: str) -> Callable[[Any, Any], dict[str, Any]]:
    def structure(value: Any, _: Any) -> dict[str, Any]:
        if type(value) is not dict or not all(
            type(key) is str and check(item) for key, item in value.items()
        ):
            raise _fail(what)
        return value

    return structure


_ENTRY_KEYS = frozenset({"operation", "component", "timestamp", "success", "error"})


def _entries(value: Any, _: Any) -> list[ValidationEntry]:
    if type(value) is not list:
        raise _fail("a list of validation entries")
    entries = []
    for item in value:
        if (
            type(item) is not dict
            or item.keys() != _ENTRY_KEYS
            or type(item["operation"]) is not str
            or type(item["component"]) is not str
            or type(item["timestamp"]) is not str
            or type(item["success"]) is not bool
            or (item["error"] is not None and type(item["error"]) is not str)
        ):
            raise _fail("validation entries")
        entries.append(
            ValidationEntry(
                item["operation"],
                item["component"],
                item["timestamp"],
                item["success"],
                item["error"],
            )
        )
    return entries


_TRANSCRIPT_KEYS = frozenset({"at", "direction", "text", "kind", "agent", "message_id"})
_OPTIONAL_TEXT = (str, type(None))


def _transcript(value: Any, _: Any) -> list[TranscriptEntry]:
    if type(value) is not list:
        raise _fail("a list of transcript entries")
    entries = []
    for item in value:
        if (
            type(item) is not dict
            or not item.keys() <= _TRANSCRIPT_KEYS
            or not {"at", "direction", "text"} <= item.keys()
            or any(type(item[name]) is not str for name in ("at", "direction", "text"))
            or type(item.get("kind", "text")) is not str
            or type(item.get("agent")) not in _OPTIONAL_TEXT
            or type(item.get("message_id")) not in _OPTIONAL_TEXT
        ):
            raise _fail("transcript entries")
        entries.append(TranscriptEntry(**item))
    return entries


def _transcript_out(entries: list[TranscriptEntry]) -> list[dict[str, Any]]:
    # One dict per entry, built directly: the transcript is most of what a commit encodes.
    return [
        {
            "at": e.at,
            "direction": e.direction,
            "text": e.text,
            "kind": e.kind,
            "agent": e.agent,
            "message_id": e.message_id,
        }
        for e in entries
    ]


# Fast strict structure hooks for the document's JSON-shaped containers: one type check per
# item instead of one hook call per item (the detailed converter keeps cattrs' own, to say
# where a document is wrong).
_FAST_STRUCTURE: dict[Any, Callable[[Any, Any], Any]] = {
    list[str]: _strs,
    dict[str, Any]: _json_object,
    dict[str, str]: _of(lambda item: type(item) is str, "an object of strings"),
    dict[str, int]: _of(lambda item: type(item) is int, "an object of integers"),
    dict[str, list[str]]: _of(
        lambda item: type(item) is list and all(type(v) is str for v in item),
        "an object of string lists",
    ),
    dict[str, dict[str, Any]]: _of(
        lambda item: type(item) is dict and all(type(k) is str for k in item),
        "an object of objects",
    ),
    list[ValidationEntry]: _entries,
    list[TranscriptEntry]: _transcript,
}


def make_converter(*, detailed: bool = False) -> Converter:
    """Build the strict converter of the document; ``metadata`` is stored as ``_metadata``.

    Args:
        detailed: Collect the path of every error (slower; used to explain a failure).
    """
    converter = Converter(forbid_extra_keys=True, detailed_validation=detailed)
    for kind in (str, int, bool):
        converter.register_structure_hook(kind, _exact(kind))
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook_func(lambda t: t == tuple[str, str], _pair)
    converter.register_structure_hook_factory(
        lambda t: is_sequence(t) and t != tuple[str, str],
        _checked(list, list_structure_factory),
    )
    converter.register_structure_hook_factory(is_mapping, _checked(dict, mapping_structure_factory))
    if not detailed:
        converter.register_structure_hook_func(
            lambda t: t in _FAST_STRUCTURE, lambda value, t: _FAST_STRUCTURE[t](value, t)
        )
    # Containers of JSON values need no unstructuring: orjson writes them as they are (values
    # were checked when components saved them), and copying them cost most of an encode.
    json_ready = {
        list[str],
        list[str | None],
        list[tuple[str, str]],
        dict[str, Any],
        dict[str, str],
        dict[str, int],
        dict[str, list[str]],
        dict[str, dict[str, Any]],
    }
    converter.register_unstructure_hook_func(lambda t: t in json_ready, _identity)
    converter.register_unstructure_hook(ValidationEntry, ValidationEntry.as_dict)
    converter.register_unstructure_hook_func(lambda t: t == list[TranscriptEntry], _transcript_out)
    metadata = override(rename="_metadata")
    converter.register_unstructure_hook(
        ConversationDocument,
        make_dict_unstructure_fn(ConversationDocument, converter, metadata=metadata),
    )
    converter.register_structure_hook(
        ConversationDocument,
        make_dict_structure_fn(
            ConversationDocument, converter, _cattrs_forbid_extra_keys=True, metadata=metadata
        ),
    )
    return converter


def _upgrade_from_1(data: dict[str, Any]) -> None:
    """Schema 1 kept saved values and component data in one ``current.data`` map.

    Which keys are state ids is known only to the flow, so everything goes to ``values``
    for now and ``flowhq.state.upgrade`` moves component data back when the flow runs.
    """
    current = data.get("current")
    if isinstance(current, dict) and "values" not in current:
        current["values"] = current.get("data", {})
        current["data"] = {}
    data["_metadata"]["schema"] = SCHEMA_VERSION
    data["_metadata"]["upgraded_from"] = 1


class JsonCodec:
    """Compact JSON (orjson) through a strict cattrs converter.

    Args:
        token_keys: Keys to encrypt the auth token at rest (see
            :mod:`flowhq.persistence.secrets`); newest first.
        opaque_tokens: Leave encrypted tokens as they are stored instead of decrypting
            them (for inspection tools that never use the token and have no keys).
    """

    def __init__(
        self, *, token_keys: Sequence[bytes | str] | None = None, opaque_tokens: bool = False
    ) -> None:
        self._converter = make_converter()
        self._explainer = make_converter(detailed=True)
        # Build the hooks now, not on first use: cattrs generates code lazily, and a codec
        # may first be used from another thread (an ASGI server's) than the one that made it.
        self._structure = self._converter.get_structure_hook(ConversationDocument)
        self._unstructure = self._converter.get_unstructure_hook(ConversationDocument)
        self._cipher = TokenCipher(token_keys) if token_keys else None
        self._opaque = opaque_tokens

    def __repr__(self) -> str:
        return f"JsonCodec(encrypted_tokens={self._cipher is not None})"

    def encode(self, document: ConversationDocument) -> bytes:
        """Serialise ``document`` to compact UTF-8 JSON (the token encrypted, with keys).

        Raises:
            TypeError: a value JSON cannot hold (components are checked before this).
        """
        data = self._unstructure(document)
        token = document.auth.token
        if token is not None and self._cipher is not None and not token.startswith(PREFIX):
            channel = document.channel
            data["auth"]["token"] = self._cipher.encrypt(
                token, f"{channel.type}:{channel.identifier}"
            )
        return orjson.dumps(data)

    def decode(self, key: str, raw: bytes) -> ConversationDocument:
        """Parse ``raw``; anything that is not a flowhq document raises ``SnapshotError``.

        No other exception leaves it, whatever the bytes (the test suite fuzzes it).
        """
        data = _parse(key, raw)
        try:
            document: ConversationDocument = self._structure(data, ConversationDocument)
        except ForbiddenExtraKeysError:
            raise SnapshotError(
                key,
                f"unknown fields ({self._explain(data)}): written by a newer flowhq or by hand; "
                f"this one reads schema {SCHEMA_VERSION} and refuses what it would drop",
            ) from None
        except (CattrsError, TypeError, ValueError, KeyError, AttributeError, IndexError):
            raise SnapshotError(key, f"malformed document: {self._explain(data)}") from None
        _check_writable(key, raw, data)
        self._decrypt(key, document)
        problem = document_problem(document)
        if problem is not None:
            raise SnapshotError(key, f"out of range: {problem}")
        return document

    def _decrypt(self, key: str, document: ConversationDocument) -> None:
        token = document.auth.token
        if token is None or not token.startswith(PREFIX) or self._opaque:
            return
        if self._cipher is None:
            raise SnapshotError(key, "the auth token is encrypted; configure the store's keys")
        channel = document.channel
        conversation = f"{channel.type}:{channel.identifier}"
        try:
            document.auth.token = self._cipher.decrypt(token, conversation)
        except TokenCipherError as exc:
            raise SnapshotError(key, str(exc)) from None

    def _explain(self, data: dict[str, Any]) -> str:
        try:
            self._explainer.structure(data, ConversationDocument)
        except BaseValidationError as exc:
            found = transform_error(exc, path="document")[:5]
            return "; ".join(line.replace("extra fields found", "unknown") for line in found)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "fields of the wrong type"


def _parse(key: str, raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw`` at the current schema (older schemas upgraded)."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also bad UTF-8 and nesting over 1,024 levels
        raise SnapshotError(key, f"not JSON: {exc}") from None
    if type(data) is not dict or type(data.get("_metadata")) is not dict:
        raise SnapshotError(key, "not a flowhq conversation document")
    schema = data["_metadata"].get("schema")
    if type(schema) is not int:  # `true == 1` and `2.0 == 2` in Python
        raise SnapshotError(key, f"unsupported schema {schema!r}")
    if schema == 1:
        _upgrade_from_1(data)
    elif schema in (2, 3):  # schemas 3 and 4 only added fields, with defaults
        data["_metadata"]["schema"] = SCHEMA_VERSION
    elif schema != SCHEMA_VERSION:
        raise SnapshotError(key, f"unsupported schema {schema!r}")
    return data


# orjson reads JSON nested up to 1,024 levels but writes only 254: a document must load only
# if the commit can write it back.
_WRITABLE_DEPTH = 254


def _check_writable(key: str, raw: bytes, data: dict[str, Any]) -> None:
    """Refuse a document nested deeper than a commit could write again.

    Counting brackets first is a cheap necessary condition; only then is it encoded.
    """
    if raw.count(b"[") + raw.count(b"{") <= _WRITABLE_DEPTH:
        return
    try:
        orjson.dumps(data)
    except orjson.JSONEncodeError:
        raise SnapshotError(
            key, f"values nested deeper than {_WRITABLE_DEPTH} levels cannot be written back"
        ) from None

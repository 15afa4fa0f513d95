"""JSON codec of the conversation document, built on one cattrs converter.

The converter is built per codec (no module-level singleton): stores own theirs.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from cattrs import Converter
from cattrs.errors import BaseValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from flowhq.errors import SnapshotError
from flowhq.state.document import SCHEMA_VERSION, ConversationDocument

__all__ = ["Codec", "JsonCodec", "make_converter"]


class Codec(Protocol):
    """Turns a conversation document into bytes and back."""

    def encode(self, document: ConversationDocument) -> bytes:
        """Serialise ``document``."""
        ...

    def decode(self, key: str, raw: bytes) -> ConversationDocument:
        """Parse ``raw`` stored at ``key``; raise ``SnapshotError`` when it is not a document."""
        ...


def make_converter() -> Converter:
    """Build the converter for the document; ``metadata`` is stored as ``_metadata``."""
    converter = Converter(forbid_extra_keys=True)
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


class JsonCodec:
    """Compact JSON through a cattrs converter."""

    def __init__(self) -> None:
        self._converter = make_converter()

    def encode(self, document: ConversationDocument) -> bytes:
        """Serialise ``document`` to compact UTF-8 JSON."""
        data = self._converter.unstructure(document)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, key: str, raw: bytes) -> ConversationDocument:
        """Parse ``raw``; anything that is not a flowhq document raises ``SnapshotError``."""
        try:
            data: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SnapshotError(key, f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("_metadata"), dict):
            raise SnapshotError(key, "not a flowhq conversation document")
        schema = data["_metadata"].get("schema")
        if schema != SCHEMA_VERSION:
            raise SnapshotError(key, f"unsupported schema {schema!r}")
        try:
            return self._converter.structure(data, ConversationDocument)
        except (BaseValidationError, TypeError, ValueError, KeyError) as exc:
            raise SnapshotError(key, f"malformed document: {exc}") from None

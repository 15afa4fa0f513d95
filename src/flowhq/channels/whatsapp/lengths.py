r"""How long a text is for WhatsApp's limits, and where a text may be cut to fit one.

Meta writes every limit as "Maximum N characters" and never says what a character is;
clients differ (some count code points, others JavaScript's ``length``, UTF-16 code units).
flowhq counts UTF-16 code units, the stricter reading: never fewer than code points, so a
text within a limit fits either way. A character beyond U+FFFF (most emoji, some CJK) counts
as 2.

Cuts fall between grapheme clusters, what a reader takes for one character (a flag, a
family emoji joined with zero-width joiners, a letter with its accents), found with the
``regex`` module's ``\X``; only a cluster longer than the limit on its own is cut, between
code points. A Python ``str`` holds code points, so no cut ever splits a surrogate pair.
"""

from __future__ import annotations

import regex

__all__ = ["prefix_end", "suffix_start", "utf16_length"]

_GRAPHEME = regex.compile(r"\X")
_ASTRAL = "\U00010000"


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units: characters beyond U+FFFF count as 2.

    This is how flowhq counts every WhatsApp limit (see docs/whatsapp.md, "How lengths are
    counted"): Meta does not define its unit, and this count is never below ``len(text)``.
    """
    if text.isascii():
        return len(text)
    # surrogatepass: a lone surrogate (only from broken input) counts as the 1 unit it is.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def prefix_end(text: str, limit: int) -> int:
    """Where the longest start of ``text`` within ``limit`` UTF-16 units ends.

    The end falls between grapheme clusters; only when the first cluster alone is longer than
    ``limit`` does it fall inside that cluster, between code points.

    Args:
        text: The text to cut.
        limit: The most UTF-16 code units the start may have.

    Returns:
        An index into ``text``: ``text[:end]`` fits, ``len(text)`` when all of it does.
    """
    if utf16_length(text) <= limit:
        return len(text)
    end = units = 0
    for cluster in _GRAPHEME.finditer(text):
        units += utf16_length(cluster.group())
        if units > limit:
            break
        end = cluster.end()
    return end or _code_point_end(text, limit)


def _code_point_end(text: str, limit: int) -> int:
    """Where the longest start of ``text`` within ``limit`` units ends, cut between code points."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if char >= _ASTRAL else 1
        if units > limit:
            return index
    return len(text)


def suffix_start(text: str, limit: int) -> int:
    """Where the longest end of ``text`` within ``limit`` UTF-16 units starts (between code points).

    Returns:
        An index into ``text``: ``text[start:]`` fits, 0 when all of it does.
    """
    excess = utf16_length(text) - max(limit, 0)
    start = 0
    while excess > 0:
        excess -= 2 if text[start] >= _ASTRAL else 1
        start += 1
    return start

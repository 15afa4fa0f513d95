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
    end = _code_point_end(text, limit)  # < len(text): text[end] is the first that does not fit
    # Segment only from a known boundary before `end`: \X costs ~0.2 us a cluster.
    clusters = _GRAPHEME.findall(text, _boundary_before(text, end), end + 1)
    cluster_start = end + 1 - len(clusters[-1])  # of the cluster holding text[end]
    return cluster_start or end


def _code_point_end(text: str, limit: int) -> int:
    """The longest start of ``text`` within ``limit`` units, cut between code points."""
    low, high = 0, min(len(text), max(limit, 0))  # a code point is at least one unit
    while low < high:
        middle = (low + high + 1) // 2
        if utf16_length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _boundary_before(text: str, end: int) -> int:
    """A grapheme boundary at or shortly before ``end``, found without segmenting.

    Between two ASCII characters (but CR LF) and next to a line feed there is always one
    (UAX #29 rules GB3-GB5 and GB9-GB13 need a non-ASCII character); failing that, 0.
    """
    for index in range(end, max(end - 64, 0), -1):
        before, char = text[index - 1], text[index]
        if before == "\n" or (char == "\n" and before != "\r"):
            return index
        if before < "\x80" and char < "\x80" and before != "\r":  # CR LF is one cluster
            return index
    return 0


def suffix_start(text: str, limit: int) -> int:
    """Where the longest end of ``text`` within ``limit`` UTF-16 units starts (between code points).

    Returns:
        An index into ``text``: ``text[start:]`` fits, 0 when all of it does.
    """
    # The answer lies between len - limit (all one unit) and len - limit // 2 (all two).
    low, high = max(len(text) - max(limit, 0), 0), len(text)
    while low < high:
        middle = (low + high) // 2
        if utf16_length(text[middle:]) <= limit:
            high = middle
        else:
            low = middle + 1
    return low

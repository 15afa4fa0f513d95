"""Meta's error codes sorted into classes, as docs/whatsapp.md's table says."""

from __future__ import annotations

import pytest

from flowhq.channels.whatsapp.codes import ErrorClass, classify

TABLE = [
    # (HTTP status, code, class): the status Meta answers the code with, as replayed.
    (400, 4, ErrorClass.THROTTLED),
    (400, 80007, ErrorClass.THROTTLED),
    (400, 130429, ErrorClass.THROTTLED),
    (400, 131048, ErrorClass.THROTTLED),
    (400, 131056, ErrorClass.THROTTLED),
    (400, 131064, ErrorClass.THROTTLED),
    (503, 133004, ErrorClass.THROTTLED),
    (429, None, ErrorClass.THROTTLED),
    (401, 190, ErrorClass.AUTH),
    (401, 0, ErrorClass.AUTH),
    (403, 10, ErrorClass.AUTH),
    (403, 200, ErrorClass.AUTH),
    (403, 299, ErrorClass.AUTH),
    (403, 131005, ErrorClass.AUTH),
    (401, None, ErrorClass.AUTH),
    (400, 3, ErrorClass.CONFIGURATION),
    (400, 131045, ErrorClass.CONFIGURATION),
    (500, 131000, ErrorClass.CONFIGURATION),
    (400, 131000, ErrorClass.CONFIGURATION),
    (400, 100, ErrorClass.PERMANENT),
    (400, 131009, ErrorClass.PERMANENT),
    (400, 131026, ErrorClass.PERMANENT),
    (400, 131047, ErrorClass.PERMANENT),
    (400, 131051, ErrorClass.PERMANENT),
    (400, 132001, ErrorClass.PERMANENT),
    (400, 999999, ErrorClass.PERMANENT),  # an unknown code on a 4xx
    (502, None, ErrorClass.SERVER),
    (500, 999999, ErrorClass.SERVER),
]


@pytest.mark.parametrize(("status", "code", "kind"), TABLE)
def test_codes_fall_in_their_class(status: int, code: int | None, kind: ErrorClass) -> None:
    assert classify(status, code) is kind

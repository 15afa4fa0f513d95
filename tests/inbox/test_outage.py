"""``OutageLog``: one line as an outage starts, a reminder a minute, one line as it ends."""

from __future__ import annotations

import logging

import pytest

from flowhq.inbox.outage import OutageLog


def test_an_outage_is_logged_at_its_start_every_minute_and_at_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = OutageLog(clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="flowhq")
    outage.recovered()  # nothing under way: nothing to say
    error = ConnectionError("refused")
    for second in range(130):
        now[0] = 100.0 + second
        outage.failed(error, "deliveries answered 503")
        outage.failed(error)  # a retried poll costs nothing
    assert outage.down
    now[0] = 231.5
    outage.recovered()
    outage.recovered()

    assert [r.getMessage() for r in caplog.records] == [
        "Redis unreachable (refused); updates wait until it is back",
        "Redis still unreachable after 60 s: 61 deliveries answered 503",
        "Redis still unreachable after 120 s: 121 deliveries answered 503",
        "Redis is back after 131.5 s: 130 deliveries answered 503",
    ]
    assert not outage.down

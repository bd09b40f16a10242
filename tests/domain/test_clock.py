"""Times as people in the lab read them: examples from the Berlin calendar of 2026.

Central Europe: CET (UTC+1) in winter, CEST (UTC+2) from 29 March 01:00 UTC to 25 October
01:00 UTC. The expected strings are read off a wall clock, not computed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from lims.domain.clock import elapsed, hours, readable

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(("when", "zone", "shown"), [
    # winter: an evening in December, microseconds and seconds dropped, not rounded up
    (datetime(2026, 12, 1, 18, 20, 59, 999999, tzinfo=UTC), BERLIN, "2026-12-01 19:20 CET"),
    # summer time
    (datetime(2026, 7, 15, 10, 5, tzinfo=UTC), BERLIN, "2026-07-15 12:05 CEST"),
    # a time sent with another offset (India) is the same instant
    (datetime(2026, 12, 1, 23, 50, tzinfo=timezone(timedelta(hours=5, minutes=30))), BERLIN,
     "2026-12-01 19:20 CET"),
    # New Year in Berlin happens while it is still 31 December in UTC
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), BERLIN, "2027-01-01 00:30 CET"),
    # the night clocks go forward: 01:59 CET, then 03:00 CEST
    (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), BERLIN, "2026-03-29 01:59 CET"),
    (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), BERLIN, "2026-03-29 03:00 CEST"),
    # the night clocks go back: 02:30 happens twice, and the zone tells which one
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), BERLIN, "2026-10-25 02:30 CEST"),
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), BERLIN, "2026-10-25 02:30 CET"),
    # other lab zones
    (datetime(2026, 12, 1, 18, 20, tzinfo=UTC), ZoneInfo("UTC"), "2026-12-01 18:20 UTC"),
    (datetime(2026, 1, 10, 17, 0, tzinfo=UTC), ZoneInfo("America/New_York"),
     "2026-01-10 12:00 EST"),
    # a zone without an abbreviation names its offset
    (datetime(2026, 1, 10, 17, 0, tzinfo=UTC), ZoneInfo("America/Sao_Paulo"),
     "2026-01-10 14:00 UTC-03"),
])
def test_readable_time_in_the_lab_zone(when: datetime, zone: ZoneInfo, shown: str) -> None:
    assert readable(when, zone) == shown


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="zone"):
        readable(datetime(2026, 12, 1, 19, 20), BERLIN)  # noqa: DTZ001


@pytest.mark.parametrize(("span", "shown"), [
    (timedelta(hours=52), "52 h"),
    (timedelta(days=2, hours=4), "52 h"),  # processing windows are counted in hours
    (timedelta(hours=4, minutes=30), "4 h 30 min"),
    (timedelta(minutes=45), "45 min"),
    (timedelta(hours=52, minutes=59, seconds=59), "52 h 59 min"),
    (timedelta(seconds=59), "0 min"),
    (timedelta(hours=-4), "-4 h"),
])
def test_durations_read_as_hours(span: timedelta, shown: str) -> None:
    assert hours(span) == shown


def test_elapsed_counts_real_hours_across_the_dst_change() -> None:
    # Collected 24 Oct 20:00 CEST, processed 26 Oct 23:00 CET: the wall clock says 51 h,
    # 52 h passed (the night of 25 October has 25 hours).
    start = datetime(2026, 10, 24, 20, 0, tzinfo=BERLIN)
    end = datetime(2026, 10, 26, 23, 0, tzinfo=BERLIN)
    assert hours(elapsed(start, end)) == "52 h"
    assert hours(elapsed(start.astimezone(UTC), end.astimezone(UTC))) == "52 h"


def test_every_minute_of_the_night_clocks_go_back_reads_differently() -> None:
    # 00:00-02:59 UTC on 25 October 2026: Berlin's 02:00-02:59 happens twice.
    start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    shown = [readable(start + timedelta(minutes=m), BERLIN) for m in range(180)]
    assert len(set(shown)) == 180
    assert shown.count("2026-10-25 02:00 CEST") == shown.count("2026-10-25 02:00 CET") == 1

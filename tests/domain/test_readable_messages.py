"""Problem details a person reads give times on the lab's clock (Europe/Berlin here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lims.domain.custody import check_handover
from lims.domain.errors import Conflict
from lims.domain.identity import BedsideFacts, mismatches

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, 18, 50, tzinfo=UTC)  # 19:50 CET


def bedside(**kw: object) -> BedsideFacts:
    facts = {"state": "distributed", "on_hold": False, "expires_at": None, "thawed_at": None,
             "product_wristband": "WB-1", "distributed_to": None, "scanned_wristband": "WB-1",
             "site": None, "now": NOW, "zone": BERLIN}
    return BedsideFacts(**(facts | kw))  # type: ignore[arg-type]


def test_an_expired_product_names_its_expiry_on_the_ward_clock() -> None:
    expired = bedside(expires_at=datetime(2026, 12, 1, 18, 20, 31, tzinfo=UTC))
    assert mismatches(expired) == ["product expired at 2026-12-01 19:20 CET"]


def test_thawed_too_long_ago_reads_in_hours_and_minutes() -> None:
    thawed = NOW - timedelta(hours=4, minutes=30)
    late = bedside(thawed_at=thawed, expires_at=thawed + timedelta(hours=4))
    assert mismatches(late) == ["product expired at 2026-12-01 19:20 CET (thawed 4 h 30 min "
                                "ago: past its post-thaw window)"]
    thawed = NOW - timedelta(hours=3, minutes=59)
    assert mismatches(bedside(thawed_at=thawed, expires_at=thawed + timedelta(hours=4))) == []


def test_an_overlapping_hand_over_names_both_times_in_summer_time() -> None:
    received = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(Conflict) as err:
        check_handover(received, False, received - timedelta(minutes=30), BERLIN)
    assert ("This hand-over (2026-07-01 09:30 CEST) starts before the sample was received "
            "by its current custodian (2026-07-01 10:00 CEST)") in err.value.detail


def test_the_processing_window_message_names_the_lab_time() -> None:
    from lims.domain.errors import GuardFailed
    from lims.domain.workflow import Request, SampleFacts, State, decide

    facts = SampleFacts(state=State.received, donor_eligibility="eligible",
                        consent_scopes=frozenset({"clinical"}),
                        processing_due_at=datetime(2026, 10, 26, 18, 0, tzinfo=UTC))
    request = Request(event="start_processing", actor_id="u", roles=frozenset({"technician"}),
                      now=datetime(2026, 10, 26, 22, 0, tzinfo=UTC), zone=BERLIN)
    with pytest.raises(GuardFailed) as err:
        decide(facts, request)
    assert ("the processing window closed at 2026-10-26 19:00 CET, 4 h ago; give a deviation "
            "reason to proceed") in err.value.extra["blocked_by"]

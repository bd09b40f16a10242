"""The audit trail reads as sentences, and its hashing catches any change."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lims.domain.audit import GENESIS, describe, entry_hash, verify_chain

AT = datetime(2026, 11, 26, 14, 2, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def test_a_change_reads_as_a_sentence():
    entry = {"at": AT, "action": "derivation", "actor_name": "J. Tech",
             "before": {"volume_ml": 12.0, "version": 3}, "after": {"volume_ml": 9.5,
                                                                     "version": 4},
             "reason": "aliquot taken"}
    assert describe(entry, BERLIN) == ("derivation: volume 12.0 -> 9.5 mL by J. Tech at "
                                       "2026-11-26 15:02 CET: aliquot taken")
    assert describe(entry, UTC).endswith("at 2026-11-26 14:02 UTC: aliquot taken")


def test_the_time_reads_in_the_lab_zone_summer_and_winter():
    entry = {"at": datetime(2026, 7, 1, 6, 30, 12, 345678, tzinfo=UTC),
             "action": "event:receive", "actor_name": "J. Tech", "before": None,
             "after": None, "reason": None}
    assert describe(entry, BERLIN) == "receive by J. Tech at 2026-07-01 08:30 CEST"
    entry["at"] = datetime(2026, 1, 1, 6, 30, tzinfo=UTC)
    assert describe(entry, BERLIN) == "receive by J. Tech at 2026-01-01 07:30 CET"


def test_an_event_without_a_before_reads_as_the_action():
    entry = {"at": AT, "action": "event:place_hold", "actor_name": "Q. QA", "before": None,
             "after": {"on_hold": True}, "reason": None}
    assert describe(entry, UTC) == "place hold by Q. QA at 2026-11-26 14:02 UTC"


def _chain(n: int) -> list[dict]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        row = {"id": i, "chain": "sample:x", "chain_seq": i, "at": AT, "actor_id": "u",
               "actor_name": "J. Tech", "action": "a", "entity_type": "sample",
               "entity_id": "x", "before": None, "after": {"n": i}, "reason": None,
               "request_id": None, "client_addr": None, "prev_hash": prev}
        row["hash"] = prev = entry_hash(row, prev)
        rows.append(row)
    return rows


def test_chain_verifies_and_names_the_changed_entry():
    rows = _chain(5)
    assert verify_chain("sample:x", rows) is None
    rows[2]["after"] = {"n": 99}
    broken = verify_chain("sample:x", rows)
    assert broken is not None and broken.entry_id == 3 and "changed" in broken.problem


def test_a_removed_or_swapped_entry_is_caught():
    rows = _chain(4)
    assert verify_chain("sample:x", rows[:1] + rows[2:]).chain_seq == 3
    swapped = [rows[0], rows[2], rows[1], rows[3]]
    assert verify_chain("sample:x", swapped) is not None


def test_a_recorded_fact_reads_with_its_details():
    entry = {"at": AT, "action": "custody_handed_over", "actor_name": "J. Tech",
             "before": None, "after": {"to": "user:tech2", "temperature_c": 37,
                                       "shipper": None}, "reason": None}
    assert describe(entry, UTC) == ("custody handed over: to user:tech2, 37 C by J. Tech at "
                               "2026-11-26 14:02 UTC")


def test_a_stored_time_in_a_change_reads_in_the_lab_zone_without_microseconds():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from lims.domain.audit import describe

    entry = {"at": datetime(2026, 12, 2, 15, 6, tzinfo=UTC), "action": "event:collect",
             "actor_name": "Jana Tech", "before": {"expires_at": None, "state": "registered"},
             "after": {"expires_at": "2026-12-05T15:06:06.774288+00:00", "state": "collected"}}
    assert describe(entry, ZoneInfo("Europe/Berlin")) == (
        "collect: expiry - -> 2026-12-05 16:06 CET, state registered -> collected "
        "by Jana Tech at 2026-12-02 16:06 CET")

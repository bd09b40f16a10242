"""The audit trail's canonical form, its chain check and its sentences, rule by rule.

The canonical form is what an inspector recomputes by hand: JSON with sorted keys, no
spaces, UTF-8 text kept as written, times in ISO 8601. Every break names the entry, its
chain, its place in the chain and what is wrong with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lims.domain.audit import GENESIS, Break, canonical, describe, diff, entry_hash, verify_chain

AT = datetime(2026, 11, 26, 14, 2, tzinfo=UTC)


def test_canonical_json_is_sorted_compact_utf8_with_iso_times():
    assert canonical({"b": 1, "a": [1, 2], "name": "Jörg Müller", "at": AT}) == (
        '{"a":[1,2],"at":"2026-11-26T14:02:00+00:00","b":1,"name":"Jörg Müller"}'
    ).encode()


def test_canonical_refuses_what_has_no_canonical_form():
    with pytest.raises(TypeError, match="^not canonical: set$"):
        canonical({"x": {1, 2}})


def test_an_entry_hash_separates_the_previous_hash_by_a_newline():
    import hashlib
    body = {k: None for k in ("chain", "chain_seq", "at", "actor_id", "actor_name", "action",
                              "entity_type", "entity_id", "before", "after", "reason",
                              "request_id", "client_addr")}
    text = ('{"action":null,"actor_id":null,"actor_name":null,"after":null,"at":null,'
            '"before":null,"chain":null,"chain_seq":null,"client_addr":null,"entity_id":null,'
            '"entity_type":null,"reason":null,"request_id":null}')
    assert entry_hash(body, GENESIS) == hashlib.sha256(
        (GENESIS + "\n" + text).encode()).hexdigest()


def _chain(n: int, chain: str = "sample:x") -> list[dict]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        row = {"id": 100 + i, "chain": chain, "chain_seq": i, "at": AT.isoformat(),
               "actor_id": "u", "actor_name": "J. Tech", "action": "a", "entity_type": "sample",
               "entity_id": "x", "before": None, "after": {"n": i}, "reason": None,
               "request_id": None, "client_addr": None, "prev_hash": prev}
        row["hash"] = prev = entry_hash(row, prev)
        rows.append(row)
    return rows


def test_a_gap_in_the_chain_is_a_missing_entry():
    rows = _chain(4)
    assert verify_chain("sample:x", rows[:1] + rows[2:]) == Break(
        103, "sample:x", 3, "entry 2 is missing or deleted (found 3)")
    assert verify_chain("sample:x", rows[1:]) == Break(
        102, "sample:x", 2, "entry 1 is missing or deleted (found 2)")


def test_an_entry_repeated_or_going_back_is_out_of_order():
    rows = _chain(3)
    assert verify_chain("sample:x", [rows[0], rows[1], rows[0]]) == Break(
        101, "sample:x", 1, "entry 3 is out of order (found 1)")


def test_an_entry_that_links_elsewhere_is_named_with_its_place():
    rows = _chain(3)
    rows[1] = {**rows[1], "prev_hash": "f" * 64}
    assert verify_chain("sample:x", rows) == Break(
        102, "sample:x", 2, "does not link to the entry before it (inserted or reordered)")


def test_a_changed_entry_is_named_with_its_place():
    rows = _chain(3)
    rows[2] = {**rows[2], "reason": "edited later"}
    assert verify_chain("sample:x", rows) == Break(
        103, "sample:x", 3, "content was changed after it was written")
    assert verify_chain("sample:x", []) is None


def test_diff_lists_fields_added_removed_and_changed_in_name_order():
    assert diff({"a": 1, "b": 2, "c": 3}, {"b": 2, "c": 4, "d": 5}) == [
        ("a", 1, None), ("c", 3, 4), ("d", None, 5)]
    assert diff(None, {"x": 1}) == [("x", None, 1)]
    assert diff({"x": 1}, None) == [("x", 1, None)]
    assert diff({"x": None}, {}) == []  # a field that is empty either way did not change


def _entry(**kw: object) -> dict:
    return {"at": AT, "action": "event:complete_processing", "actor_name": "J. Tech",
            "before": None, "after": None, "reason": None} | kw


def test_a_sentence_names_at_most_six_changes_and_unknown_fields_in_words():
    before = {f"field_{i}": i for i in range(1, 9)}
    after = {f"field_{i}": i * 10 for i in range(1, 9)}
    assert describe(_entry(before=before, after=after), UTC) == (
        "complete processing: field 1 1 -> 10, field 2 2 -> 20, field 3 3 -> 30, "
        "field 4 4 -> 40, field 5 5 -> 50, field 6 6 -> 60 by J. Tech at 2026-11-26 14:02 UTC")


def test_empty_and_listed_values_read_plainly():
    e = _entry(before={"hold_reason": None, "cell_count": 5}, after={
        "hold_reason": ["sterility", "label"], "cell_count": None})
    assert describe(e, UTC) == ("complete processing: cell count 5 -> -, hold reason - -> "
                                "sterility; label by J. Tech at 2026-11-26 14:02 UTC")


def test_a_recorded_fact_leaves_out_empty_details_and_can_be_just_the_action():
    e = _entry(action="custody_received", after={"custodian": "", "temperature_c": 4})
    assert describe(e, UTC) == "custody received: 4 C by J. Tech at 2026-11-26 14:02 UTC"
    e = _entry(action="bedside_mismatch", after={"reasons": ["wrong patient", "on hold"]})
    assert describe(e, UTC) == ("bedside mismatch: wrong patient; on hold by J. Tech at "
                                "2026-11-26 14:02 UTC")
    e = _entry(action="signed", after={"meaning": None})
    assert describe(e, UTC) == "signed by J. Tech at 2026-11-26 14:02 UTC"


def test_a_time_already_written_as_text_is_shown_as_written():
    e = _entry(at="2026-11-26T14:02:00+00:00", action="signed", after={"meaning": "approval"})
    assert describe(e, UTC) == "signed: approval by J. Tech at 2026-11-26T14:02:00+00:00"

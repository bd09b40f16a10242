"""Edges that mutation testing of lims/domain showed untested (see MUTATION.md): zones
that cannot say their offset, the Azores' summer zone at UTC+0, a custodian whose name holds
a colon, DIN flags typed in small letters, a DIN with a non-ASCII letter, an export that
starts with a blank line, and a workflow row naming a guard that does not exist."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from lims.domain import audit, custody
from lims.domain.audit import GENESIS, Break, entry_hash
from lims.domain.checks import check
from lims.domain.clock import readable
from lims.domain.errors import IllegalTransition, Invalid
from lims.domain.guards import Request, SampleFacts, StorageFacts
from lims.domain.isbt import (
    InvalidCode,
    din_data_structure,
    parse_scan,
    product_code_data_structure,
    validate_din,
    validate_facility,
)
from lims.domain.states import State
from lims.domain.workflow import (
    BY_EVENT,
    Transition,
    allowed_events,
    check_guards,
    check_step,
    decide,
)


class NoOffset(tzinfo):
    """A zone object that cannot say its offset: as good as no zone at all."""

    def utcoffset(self, dt):  # type: ignore[no-untyped-def]
        return None

    def tzname(self, dt):  # type: ignore[no-untyped-def]
        return None

    def dst(self, dt):  # type: ignore[no-untyped-def]
        return None


def test_a_zone_without_an_offset_is_refused_like_no_zone():
    when = datetime(2026, 12, 1, 9, 0, tzinfo=NoOffset())
    with pytest.raises(ValueError, match="^a readable time needs a datetime with its zone$"):
        readable(when, UTC)
    with pytest.raises(Invalid) as caught:
        check("collected_at", datetime, when)
    assert caught.value.detail == ("The collected at must include its time zone "
                                   "(e.g. 2026-12-01T09:30:00+01:00).")


def test_a_zone_at_utc_plus_zero_without_abbreviation_reads_as_utc():
    azores = ZoneInfo("Atlantic/Azores")  # "+00" in summer, "-01" in winter
    assert readable(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), azores) == "2026-07-01 12:00 UTC"
    assert readable(datetime(2026, 1, 1, 12, 0, tzinfo=UTC), azores) == \
        "2026-01-01 11:00 UTC-01"


def test_a_custodian_name_may_hold_a_colon():
    assert custody.party_text(custody.courier("DHL: Medical Express")) == \
        "DHL: Medical Express (courier)"
    assert custody.party_text(custody.person("j:tech")) == "j:tech"


def test_din_flags_are_printed_in_capitals_and_wrong_ones_are_named():
    assert din_data_structure("G123417654321", "a0") == "=G123417654321A0"
    with pytest.raises(InvalidCode) as caught:
        din_data_structure("G123417654321", "A")
    assert str(caught.value) == "DIN flags 'A' must be exactly 2 letters or digits"
    with pytest.raises(InvalidCode) as caught:
        din_data_structure("G123417654321", "61")
    assert str(caught.value) == ("DIN G123417654321 flags should be 70, not 61: flags 60-96 "
                                 "carry the check character")


def test_a_scanned_din_with_a_non_ascii_letter_is_not_a_din():
    with pytest.raises(InvalidCode) as caught:
        parse_scan("=\u00c412341765432170")
    assert str(caught.value) == ("This is not an ISBT 128 label code: it contains characters "
                                 "a DIN cannot have")


def test_blank_lines_anywhere_in_an_export_are_skipped_not_the_end_of_it():
    rows, prev = [], GENESIS
    for seq in (1, 2):
        row = {"id": seq, "chain": "sample:s1", "chain_seq": seq, "at": "2026-12-01T09:30:00",
               "actor_id": "u", "actor_name": "J. Tech", "action": "a", "entity_type": "sample",
               "entity_id": "s1", "before": None, "after": {"n": seq}, "reason": None,
               "request_id": None, "client_addr": None, "prev_hash": prev}
        row["hash"] = prev = entry_hash(row, prev)
        rows.append(row)
    rows[1]["reason"] = "changed afterwards"
    lines = ["", *(json.dumps({"kind": "entry", **r}) for r in rows)]
    assert audit.verify_export(lines) == Break(2, "sample:s1", 2,
                                               "content was changed after it was written")


def test_a_workflow_row_naming_an_unknown_guard_is_refused():
    with pytest.raises(ValueError, match=r"^teleport: unknown guards \{'beam_me_up'\}$"):
        Transition("teleport", frozenset({State.received}), State.released,
                   frozenset(), "Not a step of this lab.", guards=("beam_me_up",))


# --- identifiers: only ASCII digits where ISBT 128 has digits --------------------------------

def test_a_facility_number_has_four_ascii_digits_after_its_first_character():
    for bad in ("GA234", "G\u0663123"):  # a letter, an Arabic-Indic digit three
        with pytest.raises(InvalidCode) as caught:
            validate_facility(bad)
        assert str(caught.value) == (f"Facility number {bad}: the last 4 characters must be "
                                     "digits; check the number ICCBBA assigned to your facility")
    with pytest.raises(InvalidCode) as caught:
        validate_facility("O1234")
    assert str(caught.value) == ("Facility number O1234 cannot start with 'O': the first "
                                 "character is a letter or a digit 1-9 (never O or 0, they "
                                 "look alike)")
    with pytest.raises(InvalidCode) as caught:
        validate_din("G1234\u06637654321")
    assert str(caught.value) == (
        "DIN G1234\u06637654321: after the facility number the last 8 characters (year and "
        "sequence number) must all be digits; check for a letter O typed instead of 0")
    with pytest.raises(InvalidCode) as caught:
        validate_din("G12341765432")
    assert str(caught.value) == ("DIN 'G12341765432' has 12 characters; a DIN has 13 "
                                 "(facility 5, year 2, sequence 6)")


# --- the workflow's refusals -------------------------------------------------------------------

def _ask(event: str, roles: frozenset[str], **kw: object) -> Request:
    return Request(event=event, actor_id="u1", roles=roles, now=datetime(2026, 3, 2, 10, 0,
                                                                          tzinfo=UTC), **kw)  # type: ignore[arg-type]


def test_a_hold_step_on_a_finished_sample_says_the_state_not_the_hold():
    with pytest.raises(IllegalTransition) as caught:
        decide(SampleFacts(state=State.administered), _ask("lift_hold", frozenset({"qa"}),
                                                           reason="ok"))
    assert caught.value.detail == ("'lift_hold' is not allowed for a sample that is "
                                   "administered. Allowed now: nothing (final state).")


def test_a_signature_with_the_wrong_meaning_names_the_step():
    facts = SampleFacts(state=State.processed)
    with pytest.raises(Invalid) as caught:
        check_step(facts, _ask("release", frozenset({"qa"}), signed=True,
                               signature_meaning="reviewed"))
    assert caught.value.detail == "A signature on 'release' means released, not 'reviewed'."


def test_a_guard_that_refuses_the_request_itself_is_raised_as_it_is():
    shelf = StorageFacts(path="Freezer 2 / Shelf 1", kind="shelf", rows=None, cols=None,
                         position=1)
    facts = SampleFacts(state=State.processed, has_storage_position=True, storage=shelf)
    with pytest.raises(Invalid) as caught:
        check_guards(BY_EVENT["cryopreserve"], facts, _ask("cryopreserve",
                                                           frozenset({"technician"})))
    assert caught.value.detail == "Freezer 2 / Shelf 1 is not a box with positions."


def test_the_steps_offered_by_default_are_those_of_a_sample_not_on_hold():
    offered = allowed_events(State.received)
    assert "place_hold" in offered and "lift_hold" not in offered
    assert offered == allowed_events(State.received, on_hold=False)


class FixedNoName(tzinfo):
    """A zone that knows its offset (+02:00) but has no name for it."""

    def utcoffset(self, dt):  # type: ignore[no-untyped-def]
        return timedelta(hours=2)

    def tzname(self, dt):  # type: ignore[no-untyped-def]
        return None

    def dst(self, dt):  # type: ignore[no-untyped-def]
        return timedelta(0)


def test_zones_without_a_name_or_with_an_unknown_offset_read_as_utc():
    when = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert readable(when, FixedNoName()) == "2026-07-01 14:00 UTC"
    assert readable(when, ZoneInfo("Factory")) == "2026-07-01 12:00 UTC"  # tzdata's "-00"


def test_a_capital_x_after_a_division_letter_is_a_caps_lock_slip_too():
    with pytest.raises(InvalidCode) as caught:
        product_code_data_structure("S1001", "V", "AX")
    assert str(caught.value) == (
        "Division 'AX': the second character of a sub-division is printed as a small letter "
        "(Ax). Turn Caps Lock off or check the scanner's case setting, then scan again")

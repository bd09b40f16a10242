"""Edges that mutation testing of lims/domain showed untested (see MUTATION.md): zones
that cannot say their offset, the Azores' summer zone at UTC+0, a custodian whose name holds
a colon, DIN flags typed in small letters, a DIN with a non-ASCII letter, an export that
starts with a blank line, and a workflow row naming a guard that does not exist."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest

from lims.domain import audit, custody
from lims.domain.audit import GENESIS, Break, entry_hash
from lims.domain.checks import check
from lims.domain.clock import readable
from lims.domain.errors import Invalid
from lims.domain.isbt import InvalidCode, din_data_structure, parse_scan
from lims.domain.states import State
from lims.domain.workflow import Transition


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

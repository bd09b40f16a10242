"""Expiry from the shelf lives the lab validated (stated in lims/domain/isbt.py's table).

Expected values are written from the stated shelf lives, worked by hand, not read back
from the product table.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lims.domain.isbt import (
    PRODUCT_TYPES,
    InvalidCode,
    ShelfLife,
    collection_date_data_structure,
    expiry,
    expiry_data_structure,
    flags_agree,
)

AT = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)

# kind: (fresh, cryopreserved, post-thaw) as the lab's stability validation states them.
STATED = {
    "bone_marrow": (datetime(2026, 3, 13, 14, 30, tzinfo=UTC), datetime(2036, 3, 10, 14, 30,
                    tzinfo=UTC), datetime(2026, 3, 10, 18, 30, tzinfo=UTC)),
    "cord_blood": (datetime(2026, 3, 13, 14, 30, tzinfo=UTC), datetime(2046, 3, 10, 14, 30,
                   tzinfo=UTC), datetime(2026, 3, 10, 18, 30, tzinfo=UTC)),
    "hsc_cd34": (datetime(2026, 3, 12, 14, 30, tzinfo=UTC), datetime(2036, 3, 10, 14, 30,
                 tzinfo=UTC), datetime(2026, 3, 10, 18, 30, tzinfo=UTC)),
    "msc_adipose": (datetime(2026, 3, 12, 14, 30, tzinfo=UTC), datetime(2031, 3, 10, 14, 30,
                    tzinfo=UTC), datetime(2026, 3, 10, 20, 30, tzinfo=UTC)),
    "lipoaspirate": (datetime(2026, 3, 11, 14, 30, tzinfo=UTC), None, None),
    "ipsc": (None, None, datetime(2026, 3, 11, 14, 30, tzinfo=UTC)),
    "maternal_sample": (datetime(2026, 3, 17, 14, 30, tzinfo=UTC), datetime(2036, 3, 10, 14, 30,
                        tzinfo=UTC), datetime(2026, 3, 11, 14, 30, tzinfo=UTC)),
}


@pytest.mark.parametrize("kind", sorted(STATED))
def test_expiry_per_event_from_the_stated_shelf_lives(kind: str) -> None:
    fresh, frozen, thawed = STATED[kind]
    assert expiry(kind, event="collect", at=AT) == fresh
    assert expiry(kind, event="cryopreserve", at=AT) == frozen
    assert expiry(kind, event="thaw", at=AT) == thawed


def test_every_kind_that_can_be_thawed_has_a_post_thaw_window() -> None:
    for kind, p in PRODUCT_TYPES.items():
        if p.cryopreserved is not None:
            assert p.post_thaw is not None and p.post_thaw.hours is not None, kind
            assert 1 <= p.post_thaw.hours <= 24, kind  # hours, not days, after a thaw


def test_thawed_msc_expires_six_hours_later_in_local_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    thawed = datetime(2026, 12, 1, 13, 20, tzinfo=berlin)
    assert expiry("msc_marrow", event="thaw", at=thawed) == datetime(2026, 12, 1, 19, 20,
                                                                     tzinfo=berlin)


def test_frozen_on_29_february_expires_on_28_february() -> None:
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    assert expiry("msc_cord", event="cryopreserve", at=leap) == datetime(2033, 2, 28, 9, 0,
                                                                         tzinfo=UTC)


def test_fresh_hours_cross_a_dst_change_as_elapsed_time() -> None:
    # 72 h of elapsed time; Berlin moves clocks forward on 29 March 2026 (02:00 -> 03:00).
    at = datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    got = expiry("bone_marrow", event="collect", at=at)
    assert got is not None
    assert got - at == timedelta(hours=72)


@pytest.mark.parametrize("event", ["receive", "release", "distribute", ""])
def test_other_events_do_not_set_an_expiry(event: str) -> None:
    with pytest.raises(InvalidCode, match="collect, cryopreserve, thaw"):
        expiry("bone_marrow", event=event, at=AT)


def test_expiry_needs_an_aware_time_and_a_known_kind() -> None:
    with pytest.raises(InvalidCode, match="time zone"):
        expiry("bone_marrow", event="thaw", at=datetime(2026, 3, 10, 14, 30))
    with pytest.raises(InvalidCode, match="Unknown sample kind"):
        expiry("platelets", event="thaw", at=AT)


@pytest.mark.parametrize("kw", [{}, {"hours": 4, "years": 1}, {"hours": 0}, {"years": -1}])
def test_shelf_life_is_hours_or_years_and_positive(kw: dict) -> None:
    with pytest.raises(ValueError):
        ShelfLife(**kw)


def test_expiry_and_collection_date_data_structures() -> None:
    # 1 December 2026 is day 335; century digit 0 for the 2000s.
    at = datetime(2026, 12, 1, 19, 20, tzinfo=ZoneInfo("Europe/Berlin"))
    assert expiry_data_structure(at) == "&>0263351920"
    assert collection_date_data_structure(at.date()) == "=*026335"


@pytest.mark.parametrize(("flags", "ok"), [
    ("70", True),   # G123417654321 has check A = 10 -> type-3 flags 70
    ("71", False), ("60", False), ("96", False),
    ("00", True), ("AB", True), ("59", True), ("97", True),  # not type 3: not checked here
])
def test_flags_agree_is_the_type_3_rule(flags: str, ok: bool) -> None:
    assert flags_agree("G123417654321", flags) is ok

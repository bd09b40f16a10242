"""Rules that once lived only in routers hold for every caller of the service (pages, CLI,
imports): who reads and verifies the audit trail, and that a consent belongs to its donor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lims.db.engine import unit_of_work
from lims.domain.errors import NotFound, NotPermitted
from lims.services import audit, donors
from lims.services.context import Context
from tests.conftest import actor_for


def _ctx(session, engine, settings, username):
    return Context(session=session, actor=actor_for(engine, username), settings=settings)


def _two_donors_with_consent(engine, settings):
    with unit_of_work(engine) as s:
        c = _ctx(s, engine, settings, "coord")
        first = donors.register_donor(c, code="BM-RULE-01", donor_type="allogeneic")
        second = donors.register_donor(c, code="BM-RULE-02", donor_type="allogeneic")
        consent = donors.add_consent(c, first.id, form_version="v3", scopes=["clinical"],
                                     obtained_at=c.now - timedelta(days=1), obtained_by="Dr. Haas")
        return first.id, second.id, consent.id


def test_a_consent_cannot_be_withdrawn_through_another_donor(engine, settings):
    first, second, consent = _two_donors_with_consent(engine, settings)
    with unit_of_work(engine) as s, pytest.raises(NotFound):
        donors.withdraw_consent(_ctx(s, engine, settings, "coord"), second, consent,
                                ["clinical"], "asked at the wrong donor's visit")
    with unit_of_work(engine) as s:
        withdrawn = donors.withdraw_consent(_ctx(s, engine, settings, "coord"), first, consent,
                                            ["clinical"], "patient request")
        assert withdrawn.withdrawn_scopes == ["clinical"]


# The lab's SOP: QA and coordinators (and admins) read the trail; only QA and admins verify it.
@pytest.mark.parametrize(("username", "may_read", "may_verify"), [
    ("tech", False, False), ("coord", True, False), ("qa", True, True), ("admin", True, True),
])
def test_who_reads_and_verifies_the_trail(engine, settings, username, may_read, may_verify):
    with unit_of_work(engine) as s:
        c = _ctx(s, engine, settings, username)
        if may_read:
            rows, _ = audit.entries_page(c, None, 10)
            assert rows and all("text" in r for r in rows)
        else:
            with pytest.raises(NotPermitted):
                audit.entries_page(c, None, 10)
        if may_verify:
            assert audit.verify(c)["ok"] is True
        else:
            with pytest.raises(NotPermitted):
                audit.verify(c)


def test_eligibility_change_is_made_by_donor_id_and_audited(engine, settings):
    first, _, _ = _two_donors_with_consent(engine, settings)
    with unit_of_work(engine) as s:
        d = donors.set_eligibility(_ctx(s, engine, settings, "qa"), first, "ineligible",
                                   "positive HBV NAT")
        assert (d.eligibility, d.version) == ("ineligible", 2)

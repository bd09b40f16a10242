"""Warnings on the scan card and the label come from one rule set."""

from __future__ import annotations

import dataclasses

import pytest

from lims.domain.flags import TubeFacts, card_lines, label_words

CLEAN = TubeFacts(autologous=False, eligibility="eligible", on_hold=False, hold_reason=None,
                  overdue=False, expired=False, withdrawn_scopes=(), has_active_consent=True,
                  open_excursion=False)


def test_a_clean_tube_has_no_warnings():
    assert card_lines(CLEAN) == [] and label_words(CLEAN) == ()


@pytest.mark.parametrize(("change", "card", "label"), [
    ({"autologous": True}, "FOR AUTOLOGOUS USE ONLY", "FOR AUTOLOGOUS USE ONLY"),
    ({"eligibility": "ineligible"}, "BIOHAZARD: donor not eligible", "BIOHAZARD"),
    ({"eligibility": "pending"}, "Donor eligibility pending: quarantine", "QUARANTINE"),
    ({"on_hold": True, "hold_reason": "sterility"}, "QUARANTINE (on hold): sterility",
     "QUARANTINE"),
    ({"withdrawn_scopes": ("research",)}, "CONSENT WITHDRAWN for research use",
     "NOT FOR RESEARCH USE"),
    ({"overdue": True}, "OVERDUE: the processing window has closed", None),
    ({"expired": True}, "EXPIRED", None),
    ({"has_active_consent": False}, "NO ACTIVE CONSENT", None),
    ({"open_excursion": True}, "TEMPERATURE EXCURSION awaiting QA review", None),
])
def test_each_fact_gives_its_warning(change, card, label):
    facts = dataclasses.replace(CLEAN, **change)
    assert card in card_lines(facts)
    assert label_words(facts) == ((label,) if label else ())


def test_quarantine_is_printed_once_when_both_pending_and_on_hold():
    facts = dataclasses.replace(CLEAN, eligibility="pending", on_hold=True)
    assert label_words(facts) == ("QUARANTINE",)
    assert len(card_lines(facts)) == 2
